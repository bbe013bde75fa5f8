import { evaluatePreset, needsPresetLock, nextWakeAt, planWrites, usesDemand, type EvaluationSettings, type Notice, type PresetDemand, type PresetView, type Write } from '@warmpool/core';
import { armWakeUps, BUILD_PRIORITY, type QueueSet, type ReconcileTrigger } from '@warmpool/bus';
import {
  buildRequestedMessage,
  claimInflightSlots,
  claimSlotsForBatch,
  clearPrebuildDemand,
  ensureInflightSlots,
  insertDeleteBuilds,
  insertFailedPrebuild,
  insertOutbox,
  insertPrebuildsBatch,
  loadDemandSummaries,
  loadPresetSnapshots,
  lockFreePresets,
  lockPreset,
  notificationMessage,
  registerPrebuildDemand,
  setAutoscalingError,
  setScheduleError,
  transitionPresetStatus,
  type NewBuild,
  type OutboxMessage,
  type Pool,
  type PoolClient,
  type PrebuildTarget,
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

export type ReconcileOptions = {
  /** Injectable for tests; by default the wall clock is read at each evaluation. */
  now?: Date;
  /** Why each preset is reconciled (ReconcileJob.trigger), carried to its `reconciled` log line. */
  triggers?: ReadonlyMap<string, string>;
};

/** Reconciles one preset: a batch of one (reconcilePresets). */
export async function reconcilePreset(deps: ReconcileDeps, presetId: string, options: { now?: Date; trigger?: string } = {}): Promise<ReconcileOutcome> {
  const triggers = options.trigger === undefined ? undefined : new Map([[presetId, options.trigger]]);
  const outcomes = await reconcilePresets(deps, [presetId], { ...(options.now && { now: options.now }), ...(triggers && { triggers }) });
  return outcomes.get(presetId) ?? { kind: 'missing' };
}

/**
 * Reconciles presets (BEHAVIOUR.md §4, §6.2) with the SQL of one. One snapshot statement for all of them (and one
 * for the demand of autoscaled ones); core decides what each must write (planWrites). A converged preset costs
 * nothing more; a changed schedule or autoscaling problem is one conditional update, without a lock. Presets with
 * pool writes are locked (per-preset mutual exclusion that a crashed holder releases), re-read and re-planned
 * under the lock, and written in one transaction: first those nobody else holds (SKIP LOCKED), then, through the
 * same code, each held one in a transaction of its own that waits for its lock. So an acting preset is evaluated at
 * most three times: by the tick's screen, before the lock and under it.
 */
export async function reconcilePresets(deps: ReconcileDeps, presetIds: readonly string[], options: ReconcileOptions = {}): Promise<Map<string, ReconcileOutcome>> {
  const clock = () => options.now ?? new Date();
  const ids = [...new Set(presetIds)];
  const outcomes = new Map<string, ReconcileOutcome>(ids.map((id) => [id, { kind: 'missing' }]));
  const rows = await loadPresetSnapshots(deps.pool, ids);
  if (rows.some((r) => r.paused)) {
    for (const row of rows) outcomes.set(row.preset.id, { kind: 'paused' });
    return outcomes;
  }
  const now = clock();
  // Demand needs no lock: read once, before it.
  const demand = await loadDemand(deps.pool, rows, now);
  const plans = rows.map((row) => planPresetWrites(row, now, deps.settings, demand));
  await recordProblems(deps.pool, deps.logger, plans);
  const converged = plans.filter((p) => !needsPresetLock(p.writes));
  await clearPrebuildDemand(deps.pool, converged.filter((p) => p.row.waiting).map((p) => p.row.preset.id));
  const wakeUps: WakeUp[] = [];
  for (const { row, view } of converged) {
    const wake = nextWakeUp(deps.settings, view, now, false);
    if (wake) wakeUps.push({ presetId: row.preset.id, ...wake });
    outcomes.set(row.preset.id, { kind: 'noop', view, wakeAt: wake?.at ?? null });
  }

  const acting = plans.filter((p) => needsPresetLock(p.writes)).map((p) => p.row.preset.id);
  if (acting.length > 0) {
    const locked = await writeLocked(deps, acting, demand, clock);
    const at = clock();
    // Capped presets may have left free slots to presets ahead of them in fair order: wake those now.
    if (sharing(deps.settings) === 'fair' && [...locked.values()].some((o) => o.kind === 'executed' && o.capped)) await handOffFreeSlots(deps.pool, deps.queues, deps.logger);
    for (const [id, outcome] of locked) {
      if (outcome.kind !== 'executed') {
        deps.logger.debug({ presetId: id, outcome: outcome.kind }, 'preset changed before the lock; nothing written');
        outcomes.set(id, outcome);
        continue;
      }
      const wake = nextWakeUp(deps.settings, outcome.view, at, outcome.capped);
      if (wake) wakeUps.push({ presetId: id, ...wake });
      outcomes.set(id, { ...outcome, wakeAt: wake?.at ?? null });
      logReconciled(deps.logger, id, options.triggers?.get(id), outcome);
    }
  }
  await armNextWakeUps(deps, wakeUps, clock());
  return outcomes;
}

/** The exact instant at which the plan can next change (schedule boundary, TTL expiry, backoff end), or the capped retry. */
export function nextWakeUp(settings: ReconcileSettings, view: PresetView, now: Date, capped: boolean): { at: Date; trigger: ReconcileTrigger } | null {
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


/**
 * Groups the reconciles requested at about the same time (the jobs a worker runs concurrently) into batches for
 * reconcilePresets: DataLoader-style, a batch starts on the next turn of the event loop with whatever has been
 * requested, at most `maxBatch` presets, at most `maxConcurrent` batches at once. When a batch fails, its presets
 * are reconciled one by one, so one bad preset fails only its own job.
 */
export class ReconcileBatcher {
  private pending: { presetId: string; trigger: string | undefined; resolve: (o: ReconcileOutcome) => void; reject: (err: unknown) => void }[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly deps: ReconcileDeps,
    private readonly options: { maxBatch: number; maxConcurrent: number },
  ) {}

  reconcile(presetId: string, trigger?: string): Promise<ReconcileOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ presetId, trigger, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.drain();
      });
    });
  }

  private drain(): void {
    while (this.running < this.options.maxConcurrent && this.pending.length > 0) {
      const batch = this.pending.splice(0, this.options.maxBatch);
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.drain();
      });
    }
  }

  private async run(batch: ReconcileBatcher['pending']): Promise<void> {
    try {
      // A preset requested twice in one batch is reconciled once, under the first request's trigger.
      const triggers = new Map<string, string>();
      for (const b of batch) if (b.trigger !== undefined && !triggers.has(b.presetId)) triggers.set(b.presetId, b.trigger);
      const outcomes = await reconcilePresets(this.deps, batch.map((b) => b.presetId), { triggers });
      for (const b of batch) b.resolve(outcomes.get(b.presetId) ?? { kind: 'missing' });
    } catch (err) {
      this.deps.logger.warn({ err, presets: batch.length }, 'batch reconcile failed; reconciling its presets one by one');
      await Promise.all(batch.map((b) => reconcilePreset(this.deps, b.presetId, b.trigger === undefined ? {} : { trigger: b.trigger }).then(b.resolve, b.reject)));
    }
  }
}

type WakeUp = { presetId: string; at: Date; trigger: ReconcileTrigger };

/** One preset's record, what it means now, and what core says to write for it. */
export type PresetPlan = { row: PresetSnapshotRow; view: PresetView; writes: Write[] };

/** Evaluates a preset at `now` and asks core what to write (the tick's screen uses it too: an empty list is converged). */
export function planPresetWrites(row: PresetSnapshotRow, now: Date, settings: EvaluationSettings, demand: ReadonlyMap<string, PresetDemand>): PresetPlan {
  const view = evaluatePreset(row, now, settings, demand.get(row.preset.id));
  return { row, view, writes: planWrites(row, view) };
}

/** Demand of the autoscaled presets among `rows` (one statement, none without them); the others are sized without it. */
export async function loadDemand(pool: Pool, rows: readonly PresetSnapshotRow[], now: Date): Promise<Map<string, PresetDemand>> {
  const autoscaled = rows.filter((r) => usesDemand(r.preset.autoscaling)).map((r) => r.preset.id);
  return new Map((await loadDemandSummaries(pool, autoscaled, now)).map((d) => [d.presetId, d]));
}

type Executed = Extract<ReconcileOutcome, { kind: 'executed' }>;
type LockedOutcome = Executed | { kind: 'missing' } | { kind: 'paused' };

/**
 * The lock rounds. First one transaction over the presets nobody else holds (SKIP LOCKED); then each preset
 * another reconciler held gets a transaction of its own that waits for its lock (FOR UPDATE), all at once.
 */
async function writeLocked(deps: ReconcileDeps, ids: readonly string[], demand: ReadonlyMap<string, PresetDemand>, clock: () => Date): Promise<Map<string, LockedOutcome>> {
  await ensureSlots(deps.pool, deps.settings.maxInflightPrebuildBuilds);
  const outcomes = await lockedRound(deps, ids, 'skip-held', demand, clock);
  const held = ids.filter((id) => !outcomes.has(id));
  const settled = await Promise.allSettled(held.map((id) => lockedRound(deps, [id], 'wait', demand, clock)));
  for (const s of settled) if (s.status === 'fulfilled') for (const [id, o] of s.value) outcomes.set(id, o);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes;
}

/** One transaction: lock, re-read, re-plan and write. Presets it did not lock (held, in `skip-held`) are absent. */
async function lockedRound(
  deps: ReconcileDeps,
  ids: readonly string[],
  mode: 'skip-held' | 'wait',
  demand: ReadonlyMap<string, PresetDemand>,
  clock: () => Date,
): Promise<Map<string, LockedOutcome>> {
  // Deliver right away for latency; if Redis is briefly away, the relay's poll delivers later.
  return withOutboxTransaction(deps, async (client) => {
    const outcomes = new Map<string, LockedOutcome>();
    const locked = mode === 'wait' ? await lockWaiting(client, ids, outcomes) : await lockFreePresets(client, ids);
    const fresh = locked.length > 0 ? await loadPresetSnapshots(client, locked) : [];
    const now = clock();
    const plans: PresetPlan[] = [];
    for (const row of fresh) {
      if (row.paused) outcomes.set(row.preset.id, { kind: 'paused' });
      else plans.push(planPresetWrites(row, now, deps.settings, demand));
    }
    const written = await applyWrites(client, deps, plans);
    for (const { row, view } of plans) outcomes.set(row.preset.id, { kind: 'executed', view, ...written.get(row.preset.id)!, wakeAt: null });
    return outcomes;
  });
}

/** Waits for each preset's row lock; a preset deleted meanwhile is reported missing. */
async function lockWaiting(client: PoolClient, ids: readonly string[], outcomes: Map<string, LockedOutcome>): Promise<string[]> {
  const locked: string[] = [];
  for (const id of ids) {
    if (await lockPreset(client, id)) locked.push(id);
    else outcomes.set(id, { kind: 'missing' });
  }
  return locked;
}

type Written = { created: number; deleted: number; failedRequests: number; capped: boolean };

/**
 * The executor: applies core's writes for a batch of locked presets in the caller's transaction, a statement per
 * kind of write for the whole batch (transitions and failed requests, which are rare, one each), and queues the
 * build requests and notices in the outbox.
 */
async function applyWrites(client: PoolClient, deps: ReconcileDeps, plans: readonly PresetPlan[]): Promise<Map<string, Written>> {
  const written = new Map(plans.map((p): [string, Written] => [p.row.preset.id, { created: 0, deleted: 0, failedRequests: 0, capped: false }]));
  const messages: OutboxMessage[] = [];
  await recordProblems(client, deps.logger, plans);
  for (const { row, writes } of plans) messages.push(...(await applyStatusWrites(client, deps.logger, row, writes, written.get(row.preset.id)!)));

  const ownerOf = new Map(plans.flatMap(({ row, writes }) => writes.flatMap((w) => (w.type === 'delete' ? w.ids.map((id) => [id, row.preset.id] as const) : []))));
  for (const build of await insertDeleteBuilds(client, [...ownerOf.keys()])) {
    const presetId = ownerOf.get(build.workspaceId)!;
    written.get(presetId)!.deleted++;
    messages.push(buildRequestedMessage({ ...build, presetId, reason: 'prebuild-delete' }, BUILD_PRIORITY.delete));
  }

  const creates = plans.flatMap(({ row, writes }) => writes.flatMap((w) => (w.type === 'create' ? [{ row, write: w }] : [])));
  const created = await createPrebuilds(client, deps.settings, creates);
  for (const { row, write } of creates) {
    const builds = created.get(row.preset.id) ?? [];
    const outcome = written.get(row.preset.id)!;
    outcome.created = builds.length;
    outcome.capped = builds.length < write.count;
    if (outcome.capped) deps.logger.info({ presetId: row.preset.id, wanted: write.count, allowed: builds.length }, 'in-flight prebuild build cap reached');
    messages.push(...builds.map((b) => buildRequestedMessage({ ...b, presetId: row.preset.id, reason: 'prebuild-create' }, BUILD_PRIORITY.create)));
  }
  // Presets that no longer want creates stop waiting for slots.
  const creating = new Set(creates.map((c) => c.row.preset.id));
  await clearPrebuildDemand(client, plans.filter((p) => p.row.waiting && !creating.has(p.row.preset.id)).map((p) => p.row.preset.id));
  await insertOutbox(client, messages);
  return written;
}

/** Transitions, failed requests and the notices of transitions this reconcile made. */
async function applyStatusWrites(client: PoolClient, log: Logger, row: PresetSnapshotRow, writes: readonly Write[], written: Written): Promise<OutboxMessage[]> {
  const presetId = row.preset.id;
  const messages: OutboxMessage[] = [];
  let transitionAt: Date | null = null;
  for (const write of writes) {
    if (write.type === 'transition') {
      transitionAt = await transitionPresetStatus(client, presetId, write.status, write.reason);
    } else if (write.type === 'failed-request') {
      await insertFailedPrebuild(client, targetOf(row), write.parameters, write.error);
      written.failedRequests++;
      log.error({ presetId, error: write.error }, 'build parameters are invalid; preset marked validation_failed');
    } else if (write.type === 'notice' && transitionAt) {
      if (write.notice.event === 'preset-hard-limited') log.warn({ presetId, failures: write.notice.failures }, 'failure limit reached; preset is hard-limited');
      messages.push(noticeMessage(presetId, write.notice, transitionAt));
    }
  }
  return messages;
}

function noticeMessage(presetId: string, notice: Notice, at: Date): OutboxMessage {
  const transitionAt = at.toISOString();
  return notice.event === 'preset-hard-limited'
    ? notificationMessage({ type: notice.event, presetId, transitionAt, failures: notice.failures, lastError: notice.lastError })
    : notificationMessage({ type: notice.event, presetId, transitionAt, error: notice.error });
}

type CreateWrite = Extract<Write, { type: 'create' }>;

/**
 * Claims in-flight slots and inserts the prebuilds of the batch's creates. When slots are free for all of them and
 * nobody waits, one claim and one insert serve the batch. Otherwise (or for a single preset) each preset claims
 * its share and inserts its prebuilds before the next claims (slots are assigned only then); with fair sharing
 * every creator is first registered as waiting, so that the claims see them all, and they claim in fair order
 * (fewest prebuilds first).
 */
async function createPrebuilds(client: PoolClient, settings: ReconcileSettings, creates: readonly { row: PresetSnapshotRow; write: CreateWrite }[]): Promise<Map<string, NewBuild[]>> {
  const cap = settings.maxInflightPrebuildBuilds;
  const fair = sharing(settings) === 'fair';
  const items = creates.map(({ row, write }) => ({ target: targetOf(row), count: write.count, level: write.level, parameters: write.parameters }));
  const created = new Map<string, NewBuild[]>();
  if (items.length > 1) {
    const slots = await claimSlotsForBatch(client, cap, items.reduce((n, i) => n + i.count, 0));
    if (slots) {
      let next = 0;
      const builds = await insertPrebuildsBatch(client, items.map((i) => ({ ...i, slots: slots.slice(next, (next += i.count)) })));
      items.forEach((item, k) => created.set(item.target.presetId, builds[k] ?? []));
      return created;
    }
    if (fair) await registerPrebuildDemand(client, items.map((i) => ({ presetId: i.target.presetId, level: i.level, wanted: i.count })));
  }
  for (const item of fair ? [...items].sort((a, b) => a.level - b.level) : items) {
    const slots = await claimInflightSlots(client, { presetId: item.target.presetId, cap, wanted: item.count, level: item.level, fair });
    const builds = slots.length > 0 ? await insertPrebuildsBatch(client, [{ ...item, count: slots.length, slots }]) : [];
    created.set(item.target.presetId, builds[0] ?? []);
  }
  return created;
}

function targetOf(row: PresetSnapshotRow): PrebuildTarget {
  const { id: presetId, organizationId, templateId, templateVersionId } = row.preset;
  return { presetId, organizationId, templateId, templateVersionId };
}

/**
 * Shows unusable stored schedules and autoscaling problems (an expression's run-time error: the preset then uses
 * its schedule) to operators in the status. Conditional updates, so they need no lock; an autoscaling problem is
 * logged only when its column changed.
 */
async function recordProblems(db: Pool | PoolClient, log: Logger, plans: readonly PresetPlan[]): Promise<void> {
  for (const { row, view, writes } of plans) {
    const presetId = row.preset.id;
    for (const write of writes) {
      if (write.type !== 'record-problem') continue;
      if (write.problem === 'schedule') {
        if (write.text) log.error({ presetId, problem: write.text }, 'stored schedules are unusable; using the base instance count');
        await setScheduleError(db, presetId, write.text);
      } else if (await setAutoscalingError(db, presetId, write.text)) {
        if (write.text) log.warn({ presetId, error: write.text, targetSource: view.sizing.source }, 'autoscaling policy failed; using the scheduled target');
        else log.info({ presetId, targetSource: view.sizing.source }, 'autoscaling policy evaluates again');
      }
    }
  }
}

function logReconciled(log: Logger, presetId: string, trigger: string | undefined, outcome: Executed): void {
  log.info(
    {
      presetId,
      trigger,
      created: outcome.created,
      deleted: outcome.deleted,
      failedRequests: outcome.failedRequests,
      capped: outcome.capped,
      desired: outcome.view.desiredIfActive,
      targetSource: outcome.view.sizing.source,
    },
    'reconciled',
  );
}

export function sharing(settings: ReconcileSettings): 'fair' | 'fifo' {
  return settings.capSharing ?? 'fair';
}
