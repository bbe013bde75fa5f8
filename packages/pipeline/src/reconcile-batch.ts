import { resolveBuildParameters, type ParameterDeclaration } from '@warmpool/core';
import { BUILD_PRIORITY } from '@warmpool/bus';
import {
  claimSlotsForBatch,
  clearPrebuildDemand,
  insertDeleteBuilds,
  insertOutbox,
  insertPrebuildsBatch,
  registerPrebuildDemand,
  loadPresetSnapshots,
  lockFreePresets,
  withTransaction,
  type OutboxMessage,
  type PoolClient,
  type PrebuildBatchItem,
  type PresetSnapshotRow,
} from '@warmpool/db';
import { evaluatePreset, needsWrites, type PresetView } from './preset-view.js';
import { armNextWakeUps, buildRequested, ensureSlots, nextWakeUp, reconcilePreset, sharing, type ReconcileDeps, type ReconcileOutcome } from './reconcile.js';

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
    const view = evaluatePreset(row, now, deps.settings);
    if (!needsWrites(view) && view.scheduleProblem === row.preset.scheduleError) noops.push({ row, view });
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
    const done = await withTransaction(deps.pool, (client) => executeBatch(client, deps, writers, clock));
    for (const id of writers) if (!done.has(id)) single.push(id);
    if (done.size > 0) await deps.relay.flush().catch((err: unknown) => deps.logger.warn({ err }, 'outbox flush failed; the relay poll will retry'));
    const at = clock();
    for (const [id, outcome] of done) {
      const wake = nextWakeUp(deps.settings, outcome.view, at, false);
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
      for (const b of batch) b.resolve(outcomes.get(b.presetId) ?? { kind: 'missing' });
    } catch (err) {
      this.deps.logger.warn({ err, presets: batch.length }, 'batch reconcile failed; reconciling its presets one by one');
      await Promise.all(
        batch.map((b) => reconcilePreset({ ...this.deps, logger: this.deps.logger.child({ presetId: b.presetId }) }, b.presetId).then(b.resolve, b.reject)),
      );
    }
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
  if (!view.writes.every((a) => a.type === 'create' || a.type === 'delete')) return false;
  return !view.writes.some((a) => a.type === 'create') || resolveParameters(row).ok;
}

function resolveParameters(row: PresetSnapshotRow) {
  const declarations = Array.isArray(row.preset.declarations) ? (row.preset.declarations as ParameterDeclaration[]) : [];
  return resolveBuildParameters(declarations, row.preset.parameters);
}

/**
 * The batch transaction. Returns the presets it reconciled; the rest (held by another reconciler, no longer
 * batchable under the lock, or creates the cap or fair sharing must decide) are left to the per-preset path.
 */
async function executeBatch(client: PoolClient, deps: ReconcileDeps, ids: string[], clock: () => Date): Promise<Map<string, Executed>> {
  const locked = await lockFreePresets(client, ids);
  const fresh = locked.length ? await loadPresetSnapshots(client, locked) : [];
  const now = clock();
  const plans = fresh
    .filter((row) => !row.paused)
    .map((row) => ({ row, view: evaluatePreset(row, now, deps.settings) }))
    .filter(({ row, view }) => needsWrites(view) && batchable(row, view));
  const wanted = (view: PresetView) => view.writes.reduce((n, a) => (a.type === 'create' ? n + a.count : n), 0);
  const totalWanted = plans.reduce((n, p) => n + wanted(p.view), 0);
  let slots: number[] | null = [];
  if (totalWanted > 0) slots = await claimSlotsForBatch(client, deps.settings.maxInflightPrebuildBuilds, totalWanted);
  // Without slots for every create, the creating presets take the per-preset path, where fair sharing decides;
  // they are all registered as waiting first, so the shares are computed among all of them.
  const chosen = slots ? plans : plans.filter((p) => wanted(p.view) === 0);
  if (!slots && sharing(deps.settings) === 'fair') {
    await registerPrebuildDemand(
      client,
      plans.filter((p) => wanted(p.view) > 0).map((p) => ({ presetId: p.row.preset.id, level: Math.max(0, p.view.desiredNow - wanted(p.view)), wanted: wanted(p.view) })),
    );
  }

  const deleteIds = chosen.flatMap((p) => p.view.writes.flatMap((a) => (a.type === 'delete' ? a.ids : [])));
  const deletes = await insertDeleteBuilds(client, deleteIds);
  const presetOfWorkspace = new Map(chosen.flatMap((p) => p.row.running.map((r) => [r.id, p.row.preset.id] as const)));
  const messages: OutboxMessage[] = deletes.map((b) => buildRequested(b, presetOfWorkspace.get(b.workspaceId)!, 'prebuild-delete', BUILD_PRIORITY.delete));

  let next = 0;
  const items: PrebuildBatchItem[] = chosen.map(({ row, view }) => {
    const count = wanted(view);
    const resolved = resolveParameters(row);
    return {
      target: { presetId: row.preset.id, organizationId: row.preset.organizationId, templateId: row.preset.templateId, templateVersionId: row.preset.templateVersionId },
      count,
      parameters: resolved.ok ? resolved.parameters : {},
      slots: (slots ?? []).slice(next, (next += count)),
    };
  });
  const created = await insertPrebuildsBatch(client, items);
  created.forEach((builds, i) => messages.push(...builds.map((b) => buildRequested(b, items[i]!.target.presetId, 'prebuild-create', BUILD_PRIORITY.create))));
  await insertOutbox(client, messages);

  const deletedBy = new Map<string, number>();
  for (const b of deletes) deletedBy.set(presetOfWorkspace.get(b.workspaceId)!, (deletedBy.get(presetOfWorkspace.get(b.workspaceId)!) ?? 0) + 1);
  return new Map(
    chosen.map(({ row, view }, i): [string, Executed] => [
      row.preset.id,
      { kind: 'executed', view, created: created[i]!.length, deleted: deletedBy.get(row.preset.id) ?? 0, failedRequests: 0, capped: false, wakeAt: null },
    ]),
  );
}
