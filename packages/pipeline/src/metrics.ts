import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { desiredInstancesAt, type ScheduleEntry } from '@warmpool/core';
import { SYSTEM_USER_ID, type Pool } from '@warmpool/db';
import type { QueueSet } from '@warmpool/bus';
import type { Logger } from '@warmpool/runtime';

const PRESET_LABELS = ['organization_name', 'template_name', 'preset_name'] as const;

/** A registry with Node's default process metrics; one per service process. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  // These gauges break the `_total` naming rule (promtool rejects them); the per-type gauges without the suffix stay.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  return registry;
}

type PoolRow = {
  organization_name: string;
  template_name: string;
  preset_name: string;
  instances: number;
  timezone: string;
  schedules: ScheduleEntry[];
  status: string;
  running: number;
  eligible: number;
  created: number;
  failed: number;
  claimed: number;
  missed: number;
  replacements: number;
  requests_24h: number;
  hits_24h: number;
};

// One statement per refresh for every preset: gauges for active presets, counters from preset_counters
// (so they survive restarts of any service).
const POOL_SQL = `
SELECT o.name AS organization_name, t.name AS template_name, p.name AS preset_name, p.instances, p.timezone,
       p.schedules, p.status, (t.active_version_id = p.template_version_id AND NOT t.deleted AND NOT t.deprecated) AS active,
       COALESCE(r.running, 0)::int AS running, COALESCE(r.eligible, 0)::int AS eligible,
       COALESCE(c.created, 0)::int AS created, COALESCE(c.failed, 0)::int AS failed,
       COALESCE(c.claimed, 0)::int AS claimed, COALESCE(c.missed, 0)::int AS missed, COALESCE(c.replacements, 0)::int AS replacements,
       d.requests_24h, d.hits_24h
FROM presets p
JOIN template_versions v ON v.id = p.template_version_id
JOIN templates t ON t.id = v.template_id
JOIN organizations o ON o.id = t.organization_id
LEFT JOIN LATERAL (
  SELECT count(*) AS running,
         count(*) FILTER (WHERE ready AND NOT expired) AS eligible
  FROM (
    SELECT (EXISTS (SELECT 1 FROM agents a WHERE a.build_id = b.id)
            AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.build_id = b.id AND NOT a.ready)) AS ready,
           -- COALESCE: with no TTL and no invalidation both terms are NULL, and NOT NULL would drop every row.
           COALESCE((p.ttl_seconds > 0 AND now() - w.created_at > make_interval(secs => p.ttl_seconds))
                    OR (p.invalidated_at IS NOT NULL AND w.created_at <= p.invalidated_at), false) AS expired
    FROM workspaces w
    CROSS JOIN LATERAL (SELECT id, transition, job_status FROM builds WHERE workspace_id = w.id ORDER BY build_number DESC LIMIT 1) b
    WHERE w.preset_id = p.id AND w.owner_id = $1 AND NOT w.deleted AND b.transition = 'start' AND b.job_status = 'succeeded'
  ) x
) r ON true
LEFT JOIN LATERAL (
  SELECT sum(value) FILTER (WHERE name = 'created') AS created, sum(value) FILTER (WHERE name = 'failed') AS failed,
         sum(value) FILTER (WHERE name = 'claimed') AS claimed, sum(value) FILTER (WHERE name = 'missed') AS missed,
         sum(value) FILTER (WHERE name = 'resource_replacements') AS replacements
  FROM preset_counters WHERE preset_id = p.id
) c ON true
LEFT JOIN LATERAL (
  SELECT count(*)::int AS requests_24h, count(*) FILTER (WHERE hit)::int AS hits_24h
  FROM demand_events WHERE preset_id = p.id AND requested_at > now() - interval '24 hours'
) d ON true`;

/**
 * SPEC §9 pool metrics, computed from PostgreSQL by a cached collector: one query per refresh, however often
 * Prometheus scrapes. Call `refresh()` to update now; `start()` refreshes every `refreshMs`.
 */
export function registerPoolMetrics(registry: Registry, pool: Pool, logger: Logger, refreshMs: number) {
  const labelNames = [...PRESET_LABELS];
  const counter = (name: string, help: string) => new Counter({ name: `warmpool_prebuilt_workspaces_${name}`, help, labelNames, registers: [registry] });
  const gauge = (name: string, help: string, labels: readonly string[] = labelNames) =>
    new Gauge({ name: `warmpool_${name}`, help, labelNames: [...labels], registers: [registry] });
  const created = counter('created_total', 'Prebuilt workspaces whose creation was requested.');
  const failed = counter('failed_total', 'Prebuilt workspace builds that failed.');
  const claimed = counter('claimed_total', 'Prebuilt workspaces claimed by users.');
  const missed = counter('missed_total', 'Workspace requests a preset applied to that found no eligible prebuild (a fresh build).');
  const replacements = counter('resource_replacements_total', 'Claims whose build replaced resources.');
  const hitRatio = gauge('prebuilt_workspaces_hit_ratio', 'Share of the preset\'s workspace requests in the last 24 h served by a prebuild (absent without requests).');
  const desired = gauge('prebuilt_workspaces_desired', 'Desired prebuilt workspaces now (active presets).');
  const running = gauge('prebuilt_workspaces_running', 'Running prebuilt workspaces (active presets).');
  const eligible = gauge('prebuilt_workspaces_eligible', 'Claimable prebuilt workspaces (active presets).');
  const hardLimited = gauge('prebuilt_workspaces_preset_hard_limited', '1 when the preset reached its failure limit.');
  const validationFailed = gauge('prebuilt_workspaces_preset_validation_failed', '1 when the preset cannot build (invalid parameters).');
  const paused = gauge('prebuilt_workspaces_reconciliation_paused', '1 when reconciliation is paused site-wide.', []);
  const lastUpdated = gauge('prebuilt_workspaces_metrics_last_updated', 'Unix time of the last refresh of these metrics.', []);

  const refresh = async () => {
    const [{ rows }, setting] = await Promise.all([
      pool.query<PoolRow & { active: boolean }>(POOL_SQL, [SYSTEM_USER_ID]),
      pool.query<{ paused: boolean }>(`SELECT value = 'true'::jsonb AS paused FROM settings WHERE key = 'reconciliation_paused'`),
    ]);
    const now = new Date();
    for (const metric of [created, failed, claimed, missed, replacements, hitRatio, desired, running, eligible, hardLimited, validationFailed]) metric.reset();
    for (const row of rows) {
      const labels = { organization_name: row.organization_name, template_name: row.template_name, preset_name: row.preset_name };
      if (row.created) created.inc(labels, row.created);
      if (row.failed) failed.inc(labels, row.failed);
      if (row.claimed) claimed.inc(labels, row.claimed);
      if (row.missed) missed.inc(labels, row.missed);
      if (row.replacements) replacements.inc(labels, row.replacements);
      if (row.requests_24h > 0) hitRatio.set(labels, row.hits_24h / row.requests_24h);
      if (!row.active) continue;
      desired.set(labels, desiredInstancesAt({ instances: row.instances, timezone: row.timezone, schedules: row.schedules }, now));
      running.set(labels, row.running);
      eligible.set(labels, row.eligible);
      hardLimited.set(labels, row.status === 'hard_limited' ? 1 : 0);
      validationFailed.set(labels, row.status === 'validation_failed' ? 1 : 0);
    }
    paused.set(setting.rows[0]?.paused ? 1 : 0);
    lastUpdated.set(Math.floor(now.getTime() / 1000));
  };

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

/** Waiting/active/delayed/failed jobs per queue, read from Redis at scrape time. */
export function registerQueueMetrics(registry: Registry, queues: QueueSet): void {
  const list = Object.values(queues).filter((q): q is QueueSet['reconcile'] => typeof q === 'object' && q !== null && 'getJobCounts' in q);
  new Gauge({
    name: 'warmpool_queue_jobs',
    help: 'Jobs per queue and state.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of list) {
        const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'failed');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: queue.name, state }, n);
      }
    },
  });
}

/** Job outcomes and reconcile durations of a worker process. */
export function registerWorkerMetrics(registry: Registry) {
  return {
    jobs: new Counter({ name: 'warmpool_jobs_total', help: 'Jobs processed by queue and result.', labelNames: ['queue', 'result'], registers: [registry] }),
    reconcileDuration: new Histogram({
      name: 'warmpool_reconcile_duration_seconds',
      help: 'Time to reconcile one preset, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    creationDuration: new Histogram({
      name: 'warmpool_workspace_creation_duration_seconds',
      help: 'Time from build request to a succeeded first start build, by workspace type.',
      labelNames: ['type'],
      buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
  };
}
