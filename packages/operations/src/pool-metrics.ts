import { Counter, Gauge, type Registry } from 'prom-client';
import { isPaused, latestRolloutStates, loadPoolRows, standbyCounts, type Pool } from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';
import { sizePoolRows } from './sizing.js';
import { storedDesiredInstances } from '@warmpool/core';

const PRESET_LABELS = ['organization_name', 'template_name', 'preset_name'] as const;

/** The §9 pool metrics, registered in `registry`. */
function poolMetricSet(registry: Registry) {
  const labelNames = [...PRESET_LABELS];
  const counter = (name: string, help: string) => new Counter({ name: `warmpool_prebuilt_workspaces_${name}`, help, labelNames, registers: [registry] });
  const gauge = (name: string, help: string, labels: readonly string[] = labelNames) =>
    new Gauge({ name: `warmpool_${name}`, help, labelNames: [...labels], registers: [registry] });
  const perPreset = {
    created: counter('created_total', 'Prebuilt workspaces whose creation was requested.'),
    failed: counter('failed_total', 'Prebuilt workspace builds that failed.'),
    claimed: counter('claimed_total', 'Prebuilt workspaces claimed by users.'),
    missed: new Counter({
      name: 'warmpool_prebuilt_workspaces_missed_total',
      help: 'Workspace requests a preset applied to that found no eligible prebuild (a fresh build), by cause: rollout (a new version whose pool was never warm) or empty.',
      labelNames: [...labelNames, 'cause'],
      registers: [registry],
    }),
    replacements: counter('resource_replacements_total', 'Claims whose build replaced resources.'),
    hitRatio: gauge('prebuilt_workspaces_hit_ratio', 'Share of the preset\'s workspace requests in the last 24 h served by a prebuild (absent without requests).'),
    desired: gauge('prebuilt_workspaces_desired', 'Desired prebuilt workspaces now (active presets).'),
    running: gauge('prebuilt_workspaces_running', 'Running prebuilt workspaces (active presets).'),
    eligible: gauge('prebuilt_workspaces_eligible', 'Claimable prebuilt workspaces (active presets).'),
    hot: gauge('prebuilt_workspaces_standby_hot', 'Eligible prebuilt workspaces kept running (presets with standby tiers).'),
    frozen: gauge('prebuilt_workspaces_standby_frozen', 'Eligible prebuilt workspaces kept frozen, or being frozen (presets with standby tiers).'),
    hardLimited: gauge('prebuilt_workspaces_preset_hard_limited', '1 when the preset reached its failure limit.'),
    validationFailed: gauge('prebuilt_workspaces_preset_validation_failed', '1 when the preset cannot build (invalid parameters).'),
  };
  const templateLabels = ['organization_name', 'template_name'] as const;
  return {
    perPreset,
    eligibleByState: gauge('prebuilt_workspaces_eligible_by_version_state', 'Claimable prebuilt workspaces of a template by version state: active (claimable) or staged (warming in a rollout).', [...templateLabels, 'version_state']),
    rolloutState: gauge('template_rollout_state', "1 for the state of the template's newest staged rollout (staged, promoted, canceled, failed).", [...templateLabels, 'state']),
    paused: gauge('prebuilt_workspaces_reconciliation_paused', '1 when reconciliation is paused site-wide.', []),
    lastUpdated: gauge('prebuilt_workspaces_metrics_last_updated', 'Unix time of the last refresh of these metrics.', []),
  };
}

/** Sets every metric from one read of the pools (and the demand of autoscaled presets). */
async function refreshPoolMetrics(metrics: ReturnType<typeof poolMetricSet>, pool: Pool): Promise<void> {
  const { created, failed, claimed, missed, replacements, hitRatio, desired, running, eligible, hot, frozen, hardLimited, validationFailed } = metrics.perPreset;
  const [rows, isPausedNow, tiers, rollouts] = await Promise.all([loadPoolRows(pool), isPaused(pool), standbyCounts(pool), latestRolloutStates(pool)]);
  const now = new Date();
  const sizing = await sizePoolRows(pool, rows, now);
  for (const metric of [...Object.values(metrics.perPreset), metrics.eligibleByState, metrics.rolloutState]) metric.reset();
  for (const r of rollouts) metrics.rolloutState.set({ organization_name: r.organizationName, template_name: r.templateName, state: r.state }, 1);
  for (const row of rows) {
    const labels = { organization_name: row.organization_name, template_name: row.template_name, preset_name: row.preset_name };
    const versionState = row.active ? 'active' : row.staged ? 'staged' : null;
    if (versionState) metrics.eligibleByState.inc({ organization_name: row.organization_name, template_name: row.template_name, version_state: versionState }, row.eligible);
    if (row.created) created.inc(labels, row.created);
    if (row.failed) failed.inc(labels, row.failed);
    if (row.claimed) claimed.inc(labels, row.claimed);
    if (row.missed_rollout) missed.inc({ ...labels, cause: 'rollout' }, row.missed_rollout);
    if (row.missed > row.missed_rollout) missed.inc({ ...labels, cause: 'empty' }, row.missed - row.missed_rollout);
    if (row.replacements) replacements.inc(labels, row.replacements);
    if (row.requests_24h > 0) hitRatio.set(labels, row.hits_24h / row.requests_24h);
    if (!row.active) continue;
    const desiredNow = sizing.get(row.preset_id)?.target ?? storedDesiredInstances(row, now);
    desired.set(labels, desiredNow);
    running.set(labels, row.running);
    eligible.set(labels, row.eligible);
    const tier = tiers.get(row.preset_id);
    if (tier) {
      hot.set(labels, tier.hot);
      frozen.set(labels, tier.frozen);
    }
    hardLimited.set(labels, row.status === 'hard_limited' ? 1 : 0);
    validationFailed.set(labels, row.status === 'validation_failed' ? 1 : 0);
  }
  metrics.paused.set(isPausedNow ? 1 : 0);
  metrics.lastUpdated.set(Math.floor(now.getTime() / 1000));
}

/**
 * BEHAVIOUR.md §9 pool metrics, computed from PostgreSQL by a cached collector: 2–3 statements per refresh (the pool
 * rows and the pause flag together, then the demand of autoscaled presets when there are some), however often
 * Prometheus scrapes. Call `refresh()` to update now; `start()` refreshes every `refreshMs`. The console's pool
 * history is recorded by the scheduler (`pool-history.ts`), not here.
 */
export function registerPoolMetrics(registry: Registry, pool: Pool, logger: Logger, refreshMs: number) {
  const metrics = poolMetricSet(registry);
  const refresh = () => refreshPoolMetrics(metrics, pool);
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    refresh()
      .catch((err: unknown) => logger.warn({ err }, 'pool metrics refresh failed'))
      .finally(() => {
        if (timer) timer = setTimeout(loop, refreshMs);
      });
  };
  return {
    refresh,
    start: () => {
      timer = setTimeout(loop, 0);
    },
    stop: () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
