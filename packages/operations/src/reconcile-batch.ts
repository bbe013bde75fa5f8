import { evaluatePreset, needsReconcile, reconcileNeeds, resolveBuildParameters, type ParameterDeclaration, type PresetView, usesDemand } from '@warmpool/core';
import { BUILD_PRIORITY } from '@warmpool/bus';
import {
  buildRequestedMessage,
  claimInflightSlots,
  claimSlotsForBatch,
  clearPrebuildDemand,
  insertDeleteBuilds,
  insertOutbox,
  insertPrebuildsBatch,
  registerPrebuildDemand,
  loadPresetSnapshots,
  lockFreePresets,
  type NewBuild,
  type OutboxMessage,
  type PoolClient,
  type PrebuildBatchItem,
  type PresetSnapshotRow,
} from '@warmpool/db';
import { handOffFreeSlots } from './cap-sharing.js';
import { reconcilesThrough } from './reconciles.js';
import { advanceRollout } from './rollouts.js';
import { withOutboxTransaction } from './outbox-relay.js';
import { armNextWakeUps, createsWanted, ensureSlots, fairLevel, nextWakeUp, reconcilePreset, sharing, type ReconcileDeps, type ReconcileOutcome } from './reconcile.js';

/**
 * Reconciles many presets with the SQL of one: one snapshot statement for all of them, and one transaction for
 * those whose writes are plain creates and deletes (locks taken with SKIP LOCKED, snapshots re-read under the locks,
 * slots claimed, prebuilds, delete builds and outbox rows inserted in a statement each). Anything else (status
 * transitions, invalid parameters, a schedule problem to record, a binding cap where fair sharing decides, a
 * preset another reconciler holds) goes through reconcilePreset, which handles every case. Same outcomes as
 * calling reconcilePreset for each id.
 */
export async function reconcilePresets(deps: ReconcileDeps, presetIds: readonly string[], options: { now?: Date } = {}): Promise<Map<string, ReconcileOutcome>> {
  const clock = () => options.now ?? new Date();
  const ids = [...new Set(presetIds)];
  const outcomes = new Map<string, ReconcileOutcome>();
  const rows = new Map((await loadPresetSnapshots(deps.pool, ids)).map((r) => [r.preset.id, r]));
  for (const id of ids) if (!rows.has(id)) outcomes.set(id, { kind: 'missing' });
  if ([...rows.values()].some((r) => r.paused)) {
    for (const id of rows.keys()) outcomes.set(id, { kind: 'paused' });
    return outcomes;
  }

  const now = clock();
  const single: string[] = [];
  const writers: string[] = [];
  const noops: { row: PresetSnapshotRow; view: PresetView }[] = [];
  for (const row of rows.values()) {
    // Autoscaled presets need their demand: the per-preset path loads it (issue 13).
    if (usesDemand(row.preset.autoscaling)) {
      single.push(row.preset.id);
      continue;
    }
    const view = evaluatePreset(row, now, deps.settings);
    if (!needsReconcile(view, row.preset.scheduleError, row.preset.autoscalingError)) noops.push({ row, view });
    else if (batchable(row, view)) writers.push(row.preset.id);
    else single.push(row.preset.id);
  }
  await clearPrebuildDemand(deps.pool, noops.filter((n) => n.row.waiting).map((n) => n.row.preset.id));
  const wakeUps: { presetId: string; at: Date; trigger: string }[] = [];
  for (const { row, view } of noops) {
    const wake = nextWakeUp(deps.settings, view, now, false);
    if (wake) wakeUps.push({ presetId: row.preset.id, ...wake });
    outcomes.set(row.preset.id, { kind: 'noop', view, wakeAt: wake?.at ?? null });
  }

  if (writers.length > 0) {
    await ensureSlots(deps.pool, deps.settings.maxInflightPrebuildBuilds);
    const done = await withOutboxTransaction(deps, (client) => executeBatch(client, deps, writers, clock));
    for (const id of writers) if (!done.has(id)) single.push(id);
    const at = clock();
    // Capped presets may have left free slots to presets ahead of them in fair order: wake those now.
    if (sharing(deps.settings) === 'fair' && [...done.values()].some((o) => o.capped)) await handOffFreeSlots(deps.pool, deps.queues, deps.logger);
    for (const [id, outcome] of done) {
      const wake = nextWakeUp(deps.settings, outcome.view, at, outcome.capped);
      if (wake) wakeUps.push({ presetId: id, ...wake });
      outcomes.set(id, { ...outcome, wakeAt: wake?.at ?? null });
    }
    if (done.size > 0) deps.logger.info({ presets: done.size, created: sum(done, 'created'), deleted: sum(done, 'deleted') }, 'reconciled a batch');
  }
  await armNextWakeUps(deps, wakeUps, clock());
  // One at a time per preset, all at once across presets (each holds its own preset lock).
  const settled = await Promise.allSettled(
    single.map(async (id) => {
      outcomes.set(id, await reconcilePreset({ ...deps, logger: deps.logger.child({ presetId: id }) }, id, options.now ? { now: options.now } : {}));
    }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes;
}

/**
 * Groups the reconciles requested at about the same time (the jobs a worker runs concurrently) into batches for
 * reconcilePresets: DataLoader-style, a batch starts on the next turn of the event loop with whatever has been
 * requested, at most `maxBatch` presets, at most `maxConcurrent` batches at once. When a batch fails, its presets
 * are reconciled one by one, so one bad preset fails only its own job.
 */
export class ReconcileBatcher {
  private pending: { presetId: string; resolve: (o: ReconcileOutcome) => void; reject: (err: unknown) => void }[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly deps: ReconcileDeps,
    private readonly options: { maxBatch: number; maxConcurrent: number },
  ) {}

  reconcile(presetId: string): Promise<ReconcileOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ presetId, resolve, reject });
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
      const outcomes = await reconcilePresets(this.deps, batch.map((b) => b.presetId));
      await advanceRollouts(this.deps, outcomes.values());
      for (const b of batch) b.resolve(outcomes.get(b.presetId) ?? { kind: 'missing' });
    } catch (err) {
      this.deps.logger.warn({ err, presets: batch.length }, 'batch reconcile failed; reconciling its presets one by one');
      await Promise.all(
        batch.map((b) => reconcilePreset({ ...this.deps, logger: this.deps.logger.child({ presetId: b.presetId }) }, b.presetId).then(b.resolve, b.reject)),
      );
    }
  }
}

/**
 * A staged preset was just reconciled (a build result, an agent ready, its deadline wake-up): its rollout may now be
 * warm or past its deadline. Each rollout is looked at once per batch; a failure is logged and the next reconcile of
 * a staged preset (at the latest the deadline wake-up) looks again.
 */
async function advanceRollouts(deps: ReconcileDeps, outcomes: Iterable<ReconcileOutcome>): Promise<void> {
  const ids = new Set<string>();
  for (const o of outcomes) if ((o.kind === 'noop' || o.kind === 'executed') && o.view.snapshot.rollout) ids.add(o.view.snapshot.rollout.id);
  const reconcile = reconcilesThrough(deps.queues, deps.logger);
  for (const id of ids) {
    await advanceRollout({ ...deps, reconcile }, id).catch((err: unknown) => deps.logger.warn({ err, rolloutId: id }, 'staged rollout not advanced; the next reconcile of its presets will'));
  }
}

type Executed = Extract<ReconcileOutcome, { kind: 'executed' }>;

function sum(done: Map<string, Executed>, key: 'created' | 'deleted'): number {
  let n = 0;
  for (const o of done.values()) n += o[key];
  return n;
}

/** Plain creates and deletes with usable parameters: what the batch transaction does itself. */
function batchable(row: PresetSnapshotRow, view: PresetView): boolean {
  if (view.hardLimitDue || view.scheduleProblem !== row.preset.scheduleError) return false;
  // Staged creates spend a template-wide surge budget under the rollout's lock: the per-preset path takes it.
  if (row.rollout && view.writes.some((a) => a.type === 'create')) return false;
  if (!view.writes.every((a) => a.type === 'create' || a.type === 'delete')) return false;
  return !view.writes.some((a) => a.type === 'create') || resolveParameters(row).ok;
}

function resolveParameters(row: PresetSnapshotRow) {
  const declarations = Array.isArray(row.preset.declarations) ? (row.preset.declarations as ParameterDeclaration[]) : [];
  return resolveBuildParameters(declarations, row.preset.parameters);
}

/**
 * The batch transaction. Returns the presets it reconciled; the rest (held by another reconciler, or no longer
 * batchable under the lock) are left to the per-preset path.
 */
async function executeBatch(client: PoolClient, deps: ReconcileDeps, ids: string[], clock: () => Date): Promise<Map<string, Executed>> {
  const locked = await lockFreePresets(client, ids);
  const fresh = locked.length ? await loadPresetSnapshots(client, locked) : [];
  const now = clock();
  const plans = fresh
    .filter((row) => !row.paused)
    .map((row) => ({ row, view: evaluatePreset(row, now, deps.settings) }))
    .filter(({ row, view }) => !usesDemand(row.preset.autoscaling) && reconcileNeeds(view, row.preset.scheduleError, row.preset.autoscalingError).writes && batchable(row, view));

  const deleteIds = plans.flatMap((p) => p.view.writes.flatMap((a) => (a.type === 'delete' ? a.ids : [])));
  const deletes = await insertDeleteBuilds(client, deleteIds);
  const presetOfWorkspace = new Map(plans.flatMap((p) => p.row.running.map((r) => [r.id, p.row.preset.id] as const)));
  const messages: OutboxMessage[] = deletes.map((b) => buildRequestedMessage({ ...b, presetId: presetOfWorkspace.get(b.workspaceId)!, reason: 'prebuild-delete' }, BUILD_PRIORITY.delete));

  const creators = plans.filter((p) => createsWanted(p.view) > 0);
  const items = creators.map(({ row, view }): PrebuildBatchItem & { wanted: number; level: number } => {
    const resolved = resolveParameters(row);
    return {
      target: { presetId: row.preset.id, organizationId: row.preset.organizationId, templateId: row.preset.templateId, templateVersionId: row.preset.templateVersionId },
      count: 0,
      wanted: createsWanted(view),
      level: fairLevel(view),
      parameters: resolved.ok ? resolved.parameters : {},
    };
  });
  const total = items.reduce((n, i) => n + i.wanted, 0);
  const slots = total > 0 ? await claimSlotsForBatch(client, deps.settings.maxInflightPrebuildBuilds, total) : [];
  let created: NewBuild[][];
  if (slots) {
    // Slots for every create and nobody waiting: the whole batch in one statement.
    let next = 0;
    for (const item of items) Object.assign(item, { count: item.wanted, slots: slots.slice(next, (next += item.wanted)) });
    created = await insertPrebuildsBatch(client, items);
  } else {
    // The cap binds. Fair sharing: register every creator as waiting, then let each claim its share in fair order
    // (fewest prebuilds first), inserting its prebuilds before the next claims (slots are assigned only then).
    const fair = sharing(deps.settings) === 'fair';
    if (fair) await registerPrebuildDemand(client, items.map((i) => ({ presetId: i.target.presetId, level: i.level, wanted: i.wanted })));
    const byPreset = new Map<string, NewBuild[]>();
    for (const item of fair ? [...items].sort((a, b) => a.level - b.level) : items) {
      const got = await claimInflightSlots(client, { presetId: item.target.presetId, cap: deps.settings.maxInflightPrebuildBuilds, wanted: item.wanted, level: item.level, fair });
      Object.assign(item, { count: got.length, slots: got });
      byPreset.set(item.target.presetId, got.length > 0 ? ((await insertPrebuildsBatch(client, [item]))[0] ?? []) : []);
    }
    created = items.map((i) => byPreset.get(i.target.presetId) ?? []);
  }
  created.forEach((builds, i) => messages.push(...builds.map((b) => buildRequestedMessage({ ...b, presetId: items[i]!.target.presetId, reason: 'prebuild-create' }, BUILD_PRIORITY.create))));
  await insertOutbox(client, messages);

  const deletedBy = new Map<string, number>();
  for (const b of deletes) deletedBy.set(presetOfWorkspace.get(b.workspaceId)!, (deletedBy.get(presetOfWorkspace.get(b.workspaceId)!) ?? 0) + 1);
  const createdBy = new Map(items.map((i, k) => [i.target.presetId, { created: created[k]!.length, capped: created[k]!.length < i.wanted }]));
  return new Map(
    plans.map(({ row, view }): [string, Executed] => {
      const c = createdBy.get(row.preset.id) ?? { created: 0, capped: false };
      return [row.preset.id, { kind: 'executed', view, created: c.created, deleted: deletedBy.get(row.preset.id) ?? 0, failedRequests: 0, capped: c.capped, wakeAt: null }];
    }),
  );
}
