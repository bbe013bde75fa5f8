import { evaluatePreset, nextWakeAt, reconcileNeeds, resolveBuildParameters, type EvaluationSettings, type ParameterDeclaration, type PresetView } from '@warmpool/core';
import { armWakeUp, BUILD_PRIORITY, type QueueSet } from '@warmpool/bus';
import {
  buildRequestedMessage,
  insertDeleteBuilds,
  insertFailedPrebuild,
  insertOutbox,
  insertPrebuilds,
  loadPresetSnapshot,
  lockPreset,
  notificationMessage,
  reserveInflightSlots,
  setScheduleError,
  transitionPresetStatus,
  type OutboxMessage,
  type Pool,
  type PoolClient,
  type PresetSnapshotRow,
} from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';
import { withOutboxTransaction, type OutboxRelay } from './outbox-relay.js';

export type ReconcileSettings = EvaluationSettings & { maxInflightPrebuildBuilds: number };

export type ReconcileDeps = {
  pool: Pool;
  queues: QueueSet;
  relay: OutboxRelay;
  logger: Logger;
  settings: ReconcileSettings;
};

export type ReconcileOutcome =
  | { kind: 'missing' }
  | { kind: 'paused' }
  | { kind: 'noop'; view: PresetView; wakeAt: Date | null }
  | { kind: 'executed'; view: PresetView; created: number; deleted: number; failedRequests: number; capped: boolean; wakeAt: Date | null };

/** When the in-flight cap held creates back, try again this soon (builds finishing also trigger a reconcile). */
const CAPPED_RETRY_MS = 2_000;

/**
 * Reconciles one preset (SPEC §4, §6.2). The common no-op case is one SQL statement and no transaction;
 * only when there is something to write does it lock the preset row (per-preset mutual exclusion that a
 * crashed holder releases), re-load and re-plan under the lock, execute, commit, and flush the outbox.
 * `now` is injectable for tests; by default the wall clock is read at each evaluation.
 */
export async function reconcilePreset(deps: ReconcileDeps, presetId: string, options: { now?: Date; trigger?: string } = {}): Promise<ReconcileOutcome> {
  const clock = () => options.now ?? new Date();
  const log = deps.logger;
  const row = await loadPresetSnapshot(deps.pool, presetId);
  if (!row) {
    log.info('preset not found; nothing to reconcile');
    return { kind: 'missing' };
  }
  if (row.paused) {
    log.debug('reconciliation paused; skipped');
    return { kind: 'paused' };
  }
  const view = evaluatePreset(row, clock(), deps.settings);
  // The same rule as the tick's screening (core needsReconcile): pool writes need the lock, a changed schedule
  // problem alone is one conditional update.
  const needs = reconcileNeeds(view, row.preset.scheduleError);
  if (needs.scheduleProblem) await recordScheduleProblem(deps, row, view);
  if (!needs.writes) {
    const wakeAt = await armNextWakeUp(deps, presetId, view, clock(), false);
    return { kind: 'noop', view, wakeAt };
  }

  // Deliver right away for latency; if Redis is briefly away, the relay's poll delivers later.
  const result = await withOutboxTransaction(deps, async (client) => {
    if (!(await lockPreset(client, presetId))) return null;
    const fresh = await loadPresetSnapshot(client, presetId);
    if (!fresh || fresh.paused) return null;
    const lockedView = evaluatePreset(fresh, clock(), deps.settings);
    return { view: lockedView, ...(await execute(client, fresh, lockedView, deps.settings, log)) };
  });
  if (!result) return { kind: 'missing' };
  const wakeAt = await armNextWakeUp(deps, presetId, result.view, clock(), result.capped);
  log.info(
    { created: result.created, deleted: result.deleted, failedRequests: result.failedRequests, capped: result.capped, desired: result.view.desiredNow },
    'reconciled',
  );
  return { kind: 'executed', ...result, wakeAt };
}

/** Shows unusable stored schedules to operators (status) and logs them; only writes when it changed. */
async function recordScheduleProblem(deps: ReconcileDeps, row: PresetSnapshotRow, view: PresetView): Promise<void> {
  if (view.scheduleProblem) deps.logger.error({ problem: view.scheduleProblem }, 'stored schedules are unusable; using the base instance count');
  await setScheduleError(deps.pool, row.preset.id, view.scheduleProblem);
}

/** Arms the exact timer at which the plan can next change (schedule boundary, TTL expiry, backoff end). */
async function armNextWakeUp(deps: ReconcileDeps, presetId: string, view: PresetView, now: Date, capped: boolean): Promise<Date | null> {
  let at = nextWakeAt(view.snapshot, { now, backoffIntervalMs: deps.settings.backoffIntervalMs });
  let trigger = 'timer';
  const retryAt = new Date(now.getTime() + CAPPED_RETRY_MS);
  if (capped && (!at || at > retryAt)) {
    at = retryAt;
    trigger = 'inflight-cap';
  }
  if (!at) return null;
  await armWakeUp(deps.queues.reconcile, presetId, at, trigger, now.getTime());
  return at;
}

type Execution = { created: number; deleted: number; failedRequests: number; capped: boolean };

async function execute(client: PoolClient, row: PresetSnapshotRow, view: PresetView, settings: ReconcileSettings, log: Logger): Promise<Execution> {
  const presetId = row.preset.id;
  const messages: OutboxMessage[] = [];
  const outcome: Execution = { created: 0, deleted: 0, failedRequests: 0, capped: false };

  if (view.hardLimitDue) {
    const newest = row.population.slice(0, settings.failureHardLimit);
    const at = await transitionPresetStatus(client, presetId, 'hard_limited', `the newest ${newest.length} builds failed`);
    if (at) {
      log.warn({ failures: newest.length }, 'failure limit reached; preset is hard-limited');
      messages.push(notificationMessage({
        type: 'preset-hard-limited',
        presetId,
        transitionAt: at.toISOString(),
        failures: newest.length,
        lastError: truncate(newest[0]?.error ?? null),
      }));
    }
  }

  const deleteIds = view.writes.flatMap((a) => (a.type === 'delete' ? a.ids : []));
  const deletes = await insertDeleteBuilds(client, deleteIds);
  outcome.deleted = deletes.length;
  messages.push(...deletes.map((b) => buildRequestedMessage({ ...b, presetId, reason: 'prebuild-delete' }, BUILD_PRIORITY.delete)));

  const wanted = view.writes.reduce((n, a) => (a.type === 'create' ? n + a.count : n), 0);
  if (wanted > 0) {
    const slots = await reserveInflightSlots(client, settings.maxInflightPrebuildBuilds);
    const count = Math.min(wanted, slots);
    outcome.capped = count < wanted;
    if (outcome.capped) log.info({ wanted, allowed: count }, 'in-flight prebuild build cap reached');
    if (count > 0) {
      const target = { presetId, organizationId: row.preset.organizationId, templateId: row.preset.templateId, templateVersionId: row.preset.templateVersionId };
      const declarations = Array.isArray(row.preset.declarations) ? (row.preset.declarations as ParameterDeclaration[]) : [];
      const resolved = resolveBuildParameters(declarations, row.preset.parameters);
      if (resolved.ok) {
        const builds = await insertPrebuilds(client, target, count, resolved.parameters);
        outcome.created = builds.length;
        messages.push(...builds.map((b) => buildRequestedMessage({ ...b, presetId, reason: 'prebuild-create' }, BUILD_PRIORITY.create)));
      } else {
        // Can never succeed: record one failed request (backoff applies) and stop creating.
        await insertFailedPrebuild(client, target, row.preset.parameters, resolved.error);
        outcome.failedRequests = 1;
        const at = await transitionPresetStatus(client, presetId, 'validation_failed', resolved.error);
        log.error({ error: resolved.error }, 'build parameters are invalid; preset marked validation_failed');
        if (at) messages.push(notificationMessage({ type: 'preset-validation-failed', presetId, transitionAt: at.toISOString(), error: truncate(resolved.error) ?? '' }));
      }
    }
  }
  await insertOutbox(client, messages);
  return outcome;
}

function truncate(text: string | null): string | null {
  return text === null ? null : text.slice(0, 4096);
}
