import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimInflightSlots, ensureInflightSlots, inflightCreates, insertPrebuilds, withTransaction, type PoolClient } from '@warmpool/db';
import { ensureSlots, reconcilePreset, type ReconcileSettings } from '@warmpool/operations';
import { prebuildTarget, seedPresets, type SeededPreset } from '../support/seed.js';
import { completePendingBuilds, prebuildCounts } from '../support/fake-provisioner.js';
import { useReconcileEnv } from '../support/pipeline.js';

/**
 * The in-flight cap without a global lock (migration 010): concurrent claimers never exceed it and never wait
 * for each other; when it binds, slots are shared max-min fairly between presets.
 */

const SETTINGS: ReconcileSettings = { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3, maxInflightPrebuildBuilds: 4 };
const env = useReconcileEnv(SETTINGS);
const deps = env.deps;

/** Ends every build and forgets waiting presets, so each test starts with all slots free. */
async function drain(): Promise<void> {
  await completePendingBuilds(env.db.pool);
  await env.db.pool.query('DELETE FROM prebuild_demand');
  assert.equal(await inflightCreates(env.db.pool), 0);
}

/** Claims slots and inserts the prebuilds in one transaction, as a reconcile does. */
async function create(client: PoolClient, preset: SeededPreset, cap: number, wanted: number): Promise<number> {
  const slots = await claimInflightSlots(client, { presetId: preset.presetId, cap, wanted, level: 0, fair: false });
  await insertPrebuilds(client, prebuildTarget(preset), slots.length, {}, slots);
  return slots.length;
}

const inflightBuilds = async () =>
  (await env.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM builds WHERE reason = 'prebuild-create' AND job_status IN ('pending', 'running')`)).rows[0]!.n;

test('concurrent creates never exceed the cap, and every freed slot is used again', async () => {
  const cap = 7;
  await ensureInflightSlots(env.db.pool, cap);
  const presets = await seedPresets(env.db.pool, Array.from({ length: 12 }, () => ({ instances: 3 })));
  // A sampler reads the committed in-flight count the whole time.
  let running = true;
  let maxSeen = 0;
  const sampler = (async () => {
    while (running) maxSeen = Math.max(maxSeen, await inflightBuilds());
  })();
  for (let round = 0; round < 6; round++) {
    // 12 transactions at once (the pool has 20 connections), each wanting 3 creates, while builds finish.
    await Promise.all([...presets.map((p) => withTransaction(env.db.pool, (c) => create(c, p, cap, 3))), completePendingBuilds(env.db.pool)]);
    assert.ok((await inflightBuilds()) <= cap, `round ${round}: ${await inflightBuilds()} creates in flight, cap ${cap}`);
  }
  await Promise.all(presets.map((p) => withTransaction(env.db.pool, (c) => create(c, p, cap, 3))));
  running = false;
  await sampler;
  assert.equal(await inflightBuilds(), cap, 'with more demand than slots, every slot ends up used');
  assert.ok(maxSeen <= cap, `sampled at most ${maxSeen} in flight`);
  assert.equal(await inflightCreates(env.db.pool), await inflightBuilds(), 'busy slots are exactly the in-flight creates');
  await drain();
});

test('a reconciler holding slots does not block another one (no cluster-wide lock)', async () => {
  const [a, b] = await seedPresets(env.db.pool, [{ instances: 1 }, { instances: 1 }]);
  await ensureInflightSlots(env.db.pool, 2);
  const holder = await env.db.pool.connect();
  try {
    await holder.query('BEGIN');
    assert.equal(await create(holder, a!, 2, 1), 1);
    // With the former advisory lock this transaction would wait for `holder` and hit the lock timeout.
    await withTransaction(env.db.pool, async (c) => {
      await c.query(`SET LOCAL lock_timeout = '5s'`);
      assert.equal(await create(c, b!, 2, 1), 1);
    });
    // Both slots are taken now; a third claimer gets none instead of waiting.
    assert.equal(await withTransaction(env.db.pool, (c) => create(c, b!, 2, 1)), 0);
    await holder.query('COMMIT');
  } finally {
    holder.release();
  }
  assert.equal(await inflightCreates(env.db.pool), 2);
  await drain();
});

test('lowering the cap: busy slots above it count against it until they drain', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 10 }]);
  await ensureInflightSlots(env.db.pool, 10);
  assert.equal(await withTransaction(env.db.pool, (c) => create(c, p!, 10, 8)), 8);
  assert.equal(await withTransaction(env.db.pool, (c) => create(c, p!, 5, 3)), 0, '8 in flight, cap now 5: nothing starts');
  await drain();
  assert.equal(await withTransaction(env.db.pool, (c) => create(c, p!, 5, 8)), 5);
  await drain();
});

test('when the cap binds, every preset gets its first prebuild before any gets its second', async () => {
  const presets = await seedPresets(env.db.pool, Array.from({ length: 6 }, () => ({ instances: 3 })));
  const [p1, p2, p3, p4, p5, p6] = presets.map((p) => p.presetId) as [string, string, string, string, string, string];
  const created = async (id: string) => {
    const o = await reconcilePreset(deps(), id);
    return o.kind === 'executed' ? o.created : 0;
  };
  // Cap 4: p1 comes first while nobody waits (3), p2 gets the last slot, p3..p6 wait for their first.
  assert.deepEqual([await created(p1), await created(p2), await created(p3), await created(p4), await created(p5), await created(p6)], [3, 1, 0, 0, 0, 0]);
  await completePendingBuilds(env.db.pool, { presetId: p1 });
  // Three slots free. Even when the better-served presets reconcile first, the slots go to presets with none yet,
  // oldest waiting first: p6 (came last) and p2 (has one) get nothing.
  assert.deepEqual([await created(p2), await created(p6), await created(p5), await created(p4), await created(p3)], [0, 0, 1, 1, 1]);
  await completePendingBuilds(env.db.pool, { presetId: p3 });
  assert.deepEqual([await created(p2), await created(p4), await created(p6)], [0, 0, 1], 'the freed slot goes to p6, the last preset without one');
  for (const id of [p2, p3, p4, p5, p6]) assert.ok((await prebuildCounts(env.db.pool, id)).total >= 1);
  await drain();
});

test('first come, first served (the former order) lets the first presets take every slot', async () => {
  const presets = await seedPresets(env.db.pool, Array.from({ length: 3 }, () => ({ instances: 3 })));
  const got = [];
  for (const p of presets) {
    const o = await reconcilePreset(deps({ capSharing: 'fifo' }), p.presetId);
    got.push(o.kind === 'executed' ? o.created : 0);
  }
  assert.deepEqual(got, [3, 1, 0]);
  await drain();
});

test('deletes are never held back by the cap', async () => {
  const [p, filler] = await seedPresets(env.db.pool, [{ instances: 2 }, { instances: 4 }]);
  assert.equal((await reconcilePreset(deps(), p!.presetId)).kind, 'executed');
  await completePendingBuilds(env.db.pool, { presetId: p!.presetId });
  await reconcilePreset(deps(), filler!.presetId); // takes all 4 slots
  assert.equal(await inflightCreates(env.db.pool), 4);
  await env.db.pool.query('UPDATE presets SET instances = 0 WHERE id = $1', [p!.presetId]);
  const o = await reconcilePreset(deps(), p!.presetId);
  assert.equal(o.kind === 'executed' && o.deleted, 2);
  const { rows } = await env.db.pool.query<{ priority: number }>(
    `SELECT priority FROM outbox WHERE queue = 'build-requests' AND payload->>'presetId' = $1 AND payload->>'transition' = 'delete'`,
    [p!.presetId],
  );
  assert.deepEqual(rows.map((r) => r.priority), [2, 2], 'deletes go before creates (3); human builds (1) before both');
  await drain();
});

test('batches starting together add the slot rows once per pool and cap, not once each', async () => {
  let inserts = 0;
  const pool = new Proxy(env.db.pool, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
      return (...args: Parameters<typeof target.query>) => {
        if (String(args[0]).includes('INSERT INTO inflight_slots')) inserts++;
        return (target.query as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  await Promise.all([1, 2, 3, 4].map(() => ensureSlots(pool, SETTINGS.maxInflightPrebuildBuilds)));
  await ensureSlots(pool, SETTINGS.maxInflightPrebuildBuilds);
  assert.equal(inserts, 1);
  const { rows } = await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM inflight_slots WHERE slot <= $1', [SETTINGS.maxInflightPrebuildBuilds]);
  assert.equal(rows[0]!.n, SETTINGS.maxInflightPrebuildBuilds);
});
