import { evaluatePreset, isStagedPreset, nextWakeAt, reconcileNeeds, resolveBuildParameters, usesDemand, type EvaluationSettings, type ParameterDeclaration, type PresetView } from '@warmpool/core';
import { armWakeUps, BUILD_PRIORITY, type QueueSet } from '@warmpool/bus';
import {
  buildRequestedMessage,
  claimInflightSlots,
  clearPrebuildDemand,
  ensureInflightSlots,
  insertDeleteBuilds,
  insertFailedPrebuild,
  insertOutbox,
  insertPrebuilds,
  loadDemandSummaries,
  loadPresetSnapshot,
  lockPreset,
  lockStagedRollout,
  notificationMessage,
  setAutoscalingError,
  setScheduleError,
  transitionPresetStatus,
  type OutboxMessage,
  type Pool,
  type PoolClient,
  type PresetSnapshotRow,
} from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';
import { handOffFreeSlots } from './cap-sharing.js';
import { withOutboxTransaction, type OutboxRelay } from './outbox-relay.js';

export type ReconcileSettings = EvaluationSettings & {
  maxInflightPrebuildBuilds: number;
  /** How creates share the in-flight cap when it binds: max-min fair between presets (default) or first come first served. */
  capSharing?: 'fair' | 'fifo';
};

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

/**
 * When the in-flight cap held creates back, try again this soon. With fair sharing, a freed slot hands itself to
 * the presets next in line at once (handOffFreeSlots), so the retry is only a safety net and must not turn
 * thousands of waiting presets into a polling load; first come first served relies on it (2 s).
 */
const CAPPED_RETRY_MS = { fair: 15_000, fifo: 2_000 } as const;

// Slot rows are added up to the cap once per pool and cap (idempotent; another process may have done it). The
// promise is kept, so batches starting together wait for one INSERT instead of each running it (with a lifted
// cap of 100,000 that was four concurrent 100,000-row inserts at start-up).
const slotsEnsured = new WeakMap<Pool, { cap: number; done: Promise<void> }>();
export async function ensureSlots(pool: Pool, cap: number): Promise<void> {
  const known = slotsEnsured.get(pool);
  if (known?.cap === cap) return known.done;
  const done = ensureInflightSlots(pool, cap);
  slotsEnsured.set(pool, { cap, done });
  try {
    await done;
  } catch (err) {
    if (slotsEnsured.get(pool)?.done === done) slotsEnsured.delete(pool); // the next call tries again
    throw err;
  }
}

/**
 * Reconciles one preset (BEHAVIOUR.md §4, §6.2). The common no-op case is one SQL statement and no transaction;
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
  // Autoscaled presets also read their demand (one more statement); demand needs no lock, so it is read once.
  const demand = usesDemand(row.preset.autoscaling) ? ((await loadDemandSummaries(deps.pool, [presetId], clock()))[0] ?? null) : null;
  const view = evaluatePreset(row, clock(), deps.settings, demand);
  // The same rule as the tick's screening (core needsReconcile): pool writes need the lock, a changed schedule or
  // autoscaling problem alone is one conditional update.
  const needs = reconcileNeeds(view, row.preset.scheduleError, row.preset.autoscalingError);
  if (needs.scheduleProblem) await recordScheduleProblem(deps, row, view);
  if (needs.autoscalingProblem) await recordAutoscalingProblem(deps, row, view);
  if (!needs.writes) {
    if (row.waiting) await clearPrebuildDemand(deps.pool, [presetId]);
    const wakeAt = await armNextWakeUp(deps, presetId, view, clock(), false);
    return { kind: 'noop', view, wakeAt };
  }

  await ensureSlots(deps.pool, deps.settings.maxInflightPrebuildBuilds);
  // Deliver right away for latency; if Redis is briefly away, the relay's poll delivers later.
  const result = await withOutboxTransaction(deps, async (client): Promise<ReconcileOutcome> => {
    if (!(await lockPreset(client, presetId))) return { kind: 'missing' };
    // A staged preset spends its template's surge budget: the rollout's row lock makes the in-flight count it reads
    // next include every other staged preset's committed creates (lock order: preset, then rollout).
    if (row.rollout) await lockStagedRollout(client, row.preset.templateId);
    const fresh = await loadPresetSnapshot(client, presetId);
    if (!fresh) return { kind: 'missing' };
    if (fresh.paused) return { kind: 'paused' };
    const lockedView = evaluatePreset(fresh, clock(), deps.settings, demand);
    return { kind: 'executed', view: lockedView, ...(await execute(client, fresh, lockedView, deps.settings, log)), wakeAt: null };
  });
  if (result.kind !== 'executed') {
    log.debug({ outcome: result.kind }, 'preset changed before the lock; nothing written');
    return result;
  }
  // This preset may have left free slots to presets ahead of it in fair order: wake them now.
  if (result.capped && sharing(deps.settings) === 'fair') await handOffFreeSlots(deps.pool, deps.queues, log);
  const wakeAt = await armNextWakeUp(deps, presetId, result.view, clock(), result.capped);
  log.info(
    {
      created: result.created,
      deleted: result.deleted,
      failedRequests: result.failedRequests,
      capped: result.capped,
      desired: result.view.desiredNow,
      targetSource: result.view.sizing.source,
    },
    'reconciled',
  );
  return { ...result, wakeAt };
}

/** Shows unusable stored schedules to operators (status) and logs them; only writes when it changed. */
export async function recordScheduleProblem(deps: ReconcileDeps, row: PresetSnapshotRow, view: PresetView): Promise<void> {
  if (view.scheduleProblem) deps.logger.error({ problem: view.scheduleProblem }, 'stored schedules are unusable; using the base instance count');
  await setScheduleError(deps.pool, row.preset.id, view.scheduleProblem);
}

/**
 * Shows an expression's run-time error (the preset then uses its schedule) or unusable stored policy data in the
 * status, and logs it once: the column is written, and the line logged, only when the problem changes.
 */
async function recordAutoscalingProblem(deps: ReconcileDeps, row: PresetSnapshotRow, view: PresetView): Promise<void> {
  const error = view.sizing.error;
  if (!(await setAutoscalingError(deps.pool, row.preset.id, error))) return;
  if (error) deps.logger.warn({ error, targetSource: view.sizing.source }, 'autoscaling policy failed; using the scheduled target');
  else deps.logger.info({ targetSource: view.sizing.source }, 'autoscaling policy evaluates again');
}

/** The exact instant at which the plan can next change (schedule boundary, TTL expiry, backoff end), or the capped retry. */
export function nextWakeUp(settings: ReconcileSettings, view: PresetView, now: Date, capped: boolean): { at: Date; trigger: string } | null {
  const at = nextWakeAt(view.snapshot, { now, backoffIntervalMs: settings.backoffIntervalMs });
  const retryAt = new Date(now.getTime() + CAPPED_RETRY_MS[sharing(settings)]);
  if (capped && (!at || at > retryAt)) return { at: retryAt, trigger: 'inflight-cap' };
  return at ? { at, trigger: 'timer' } : null;
}

// Wake-ups this process armed, by queue prefix and preset: re-arming the same future instant is skipped (it costs
// a Redis round trip and changes nothing: the job id is fixed). The scheduler's tick re-arms independently, so a
// wake-up lost with Redis data is still restored within one interval.
const armed = new Map<string, number>();
const ARMED_MEMORY = 100_000;

/** Arms the wake-ups (one Redis call per trigger), skipping those this process already armed. */
export async function armNextWakeUps(deps: ReconcileDeps, wakeUps: readonly { presetId: string; at: Date; trigger: string }[], now: Date): Promise<void> {
  const fresh = wakeUps.filter((w) => armed.get(`${deps.queues.prefix}|${w.presetId}`) !== w.at.getTime());
  if (fresh.length === 0) return;
  for (const trigger of new Set(fresh.map((w) => w.trigger))) {
    await armWakeUps(deps.queues.reconcile, fresh.filter((w) => w.trigger === trigger), trigger, now.getTime());
  }
  if (armed.size > ARMED_MEMORY) armed.clear();
  for (const w of fresh) armed.set(`${deps.queues.prefix}|${w.presetId}`, w.at.getTime());
}

async function armNextWakeUp(deps: ReconcileDeps, presetId: string, view: PresetView, now: Date, capped: boolean): Promise<Date | null> {
  const wake = nextWakeUp(deps.settings, view, now, capped);
  if (wake) await armNextWakeUps(deps, [{ presetId, ...wake }], now);
  return wake?.at ?? null;
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

  const wanted = createsWanted(view);
  if (wanted === 0 && row.waiting) await clearPrebuildDemand(client, [presetId]);
  if (wanted > 0) {
    const slots = await claimInflightSlots(client, {
      presetId,
      cap: settings.maxInflightPrebuildBuilds,
      wanted,
      level: fairLevel(view),
      fair: sharing(settings) === 'fair',
    });
    const count = slots.length;
    outcome.capped = count < wanted;
    if (outcome.capped) log.info({ wanted, allowed: count }, 'in-flight prebuild build cap reached');
    if (count > 0) {
      const target = { presetId, organizationId: row.preset.organizationId, templateId: row.preset.templateId, templateVersionId: row.preset.templateVersionId };
      const declarations = Array.isArray(row.preset.declarations) ? (row.preset.declarations as ParameterDeclaration[]) : [];
      const resolved = resolveBuildParameters(declarations, row.preset.parameters);
      if (resolved.ok) {
        const builds = await insertPrebuilds(client, target, count, resolved.parameters, slots);
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

/** Prebuilds the plan wants created now. */
export function createsWanted(view: PresetView): number {
  return view.writes.reduce((n, a) => (a.type === 'create' ? n + a.count : n), 0);
}

/**
 * Staged presets rank after every active preset in fair sharing (BEHAVIOUR.md §4.6): their level is offset by more
 * than any active pool can have (desired counts are capped far below), so a rollout never takes a refill's slot.
 */
export const STAGED_LEVEL_OFFSET = 1_000_000;

/** A preset's position in max-min fair sharing: how many prebuilds it has, ready or coming (staged: after all active). */
export function fairLevel(view: PresetView): number {
  return Math.max(0, view.desiredNow - createsWanted(view)) + (isStagedPreset(view.snapshot.preset) ? STAGED_LEVEL_OFFSET : 0);
}

export function sharing(settings: ReconcileSettings): 'fair' | 'fifo' {
  return settings.capSharing ?? 'fair';
}

function truncate(text: string | null): string | null {
  return text === null ? null : text.slice(0, 4096);
}
