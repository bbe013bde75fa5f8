import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcilePresets, ReconcileBatcher, type ReconcileOutcome, type ReconcileSettings } from '@warmpool/operations';
import { createLogger } from '@warmpool/runtime';
import { seedPresets, setPaused } from '../support/seed.js';
import { completePendingBuilds, prebuildCounts } from '../support/fake-provisioner.js';
import { countingPool, useReconcileEnv } from '../support/pipeline.js';
import { waitFor } from '../support/wait.js';

const SETTINGS: ReconcileSettings = { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3, maxInflightPrebuildBuilds: 1_000 };
const env = useReconcileEnv(SETTINGS);

test('a batch reconciles creates, deletes, no-ops and unknown presets like one reconcile each', async () => {
  const [grow, shrink, steady] = await seedPresets(env.db.pool, [{ instances: 2 }, { instances: 2 }, { instances: 1 }]);
  await reconcilePresets(env.deps(), [shrink!.presetId, steady!.presetId]);
  await completePendingBuilds(env.db.pool);
  await env.db.pool.query('UPDATE presets SET instances = 0 WHERE id = $1', [shrink!.presetId]);

  const unknown = '99999999-9999-4999-8999-999999999999';
  const out = await reconcilePresets(env.deps(), [grow!.presetId, shrink!.presetId, steady!.presetId, unknown, grow!.presetId]);
  const g = out.get(grow!.presetId)!;
  const s = out.get(shrink!.presetId)!;
  assert.equal(g.kind === 'executed' && g.created, 2);
  assert.equal(s.kind === 'executed' && s.deleted, 2);
  assert.equal(out.get(steady!.presetId)!.kind, 'noop');
  assert.equal(out.get(unknown)!.kind, 'missing');
  assert.equal((await prebuildCounts(env.db.pool, grow!.presetId)).pending, 2, 'a preset listed twice is reconciled once');
  const { rows } = await env.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`);
  assert.equal(rows[0]!.n, 0, 'every build request published');
});

test('a batch of converged presets costs one SQL statement; a batch with creates a fixed number, whatever its size', async () => {
  const presets = await seedPresets(env.db.pool, Array.from({ length: 30 }, () => ({ instances: 1 })));
  const ids = presets.map((p) => p.presetId);
  const counter = countingPool(env.db.pool);
  await reconcilePresets(env.deps({}, counter.pool), ids);
  const withCreates = counter.count();
  assert.ok(withCreates <= 9, `${withCreates} statements for 30 presets with a create each`);
  await completePendingBuilds(env.db.pool);
  counter.reset();
  const out = await reconcilePresets(env.deps({}, counter.pool), ids);
  assert.ok([...out.values()].every((o) => o.kind === 'noop'));
  assert.equal(counter.count(), 1);
});

test('a preset another reconciler holds gets a second round that waits for its lock; the others are written first', async () => {
  const [held, free] = await seedPresets(env.db.pool, [{ instances: 1 }, { instances: 1 }]);
  const counter = countingPool(env.db.pool);
  const holder = await env.db.pool.connect();
  let done: Promise<Map<string, unknown>>;
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM presets WHERE id = $1 FOR UPDATE', [held!.presetId]);
    done = reconcilePresets(env.deps({}, counter.pool), [held!.presetId, free!.presetId]);
    // The free preset is committed while the held one still waits for its lock.
    await waitFor(async () => (await prebuildCounts(env.db.pool, free!.presetId)).pending === 1, { what: 'the free preset reconciled' });
    assert.equal((await prebuildCounts(env.db.pool, held!.presetId)).total, 0);
    await holder.query('COMMIT');
  } finally {
    holder.release();
  }
  const out = await done;
  assert.equal((out.get(held!.presetId) as { kind: string }).kind, 'executed');
  assert.equal((await prebuildCounts(env.db.pool, held!.presetId)).pending, 1);
  const statements = counter.statements();
  assert.deepEqual(statements.filter((q) => /SKIP LOCKED/.test(q) && /FROM presets/.test(q)).length, 1, 'one round over the free presets');
  assert.deepEqual(statements.filter((q) => /^SELECT id FROM presets WHERE id = \$1 FOR UPDATE$/.test(q)).length, 1, 'one waiting lock, for the held preset');
  await completePendingBuilds(env.db.pool);
});

test('when the cap binds, the batch shares it fairly in its one transaction (first come, first served when so set)', async () => {
  const busy = async () => (await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM inflight_slots WHERE build_id IS NOT NULL')).rows[0]!.n;
  // Within a batch there is no arrival order: first come, first served lets one of the two take both slots.
  const created = (out: Map<string, ReconcileOutcome>, ids: string[]) => ids.map((id) => { const o = out.get(id)!; return o.kind === 'executed' ? o.created : -1; }).sort();
  for (const [capSharing, expected] of [['fair', [1, 1]], ['fifo', [0, 2]]] as const) {
    const ids = (await seedPresets(env.db.pool, [{ instances: 2 }, { instances: 2 }])).map((p) => p.presetId);
    const counter = countingPool(env.db.pool);
    const out = await reconcilePresets(env.deps({ maxInflightPrebuildBuilds: (await busy()) + 2, capSharing }, counter.pool), ids);
    assert.deepEqual(created(out, ids), expected, capSharing);
    assert.equal(counter.statements().filter((q) => q === 'BEGIN').length, 1, `${capSharing}: one transaction`);
    await completePendingBuilds(env.db.pool);
    await env.db.pool.query('DELETE FROM prebuild_demand');
  }
});

test('paused reconciliation: the batch writes nothing', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 1 }]);
  await setPaused(env.db.pool, true);
  try {
    const paused = await reconcilePresets(env.deps(), [p!.presetId]);
    assert.equal(paused.get(p!.presetId)!.kind, 'paused');
    assert.equal((await prebuildCounts(env.db.pool, p!.presetId)).total, 0);
  } finally {
    await setPaused(env.db.pool, false);
  }
});

test('the batcher groups concurrent requests and answers each one', async () => {
  const presets = await seedPresets(env.db.pool, Array.from({ length: 10 }, () => ({ instances: 1 })));
  const counter = countingPool(env.db.pool);
  const batcher = new ReconcileBatcher({ ...env.deps({}, counter.pool), logger: createLogger('test', { level: 'silent' }) }, { maxBatch: 100, maxConcurrent: 1 });
  const outcomes = await Promise.all(presets.map((p) => batcher.reconcile(p.presetId)));
  assert.ok(outcomes.every((o) => o.kind === 'executed' && o.created === 1));
  assert.ok(counter.count() <= 9, `one batch: ${counter.count()} statements for 10 presets`);
});
