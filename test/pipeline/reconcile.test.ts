import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcilePreset, type ReconcileSettings } from '@warmpool/operations';
import { inflightCreates } from '@warmpool/db';
import { seedPresets, seedVersion, setPaused } from '../support/seed.js';
import { completePendingBuilds, failPendingBuilds, prebuildCounts } from '../support/fake-provisioner.js';
import { countingPool, useReconcileEnv } from '../support/pipeline.js';

const SETTINGS: ReconcileSettings = { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3, maxInflightPrebuildBuilds: 1_000 };
const env = useReconcileEnv(SETTINGS);
const deps = env.deps;
const minutesFromNow = (m: number) => new Date(Date.now() + m * 60_000);

async function outboxRows(presetId: string, queue: string) {
  const { rows } = await env.db.pool.query<{ name: string; published_at: Date | null; priority: number }>(
    `SELECT name, published_at, priority FROM outbox WHERE queue = $1 AND payload->>'presetId' = $2`,
    [queue, presetId],
  );
  return rows;
}

test('creates up to desired with published build requests; a converged preset costs one SQL round trip', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 3 }]);
  const first = await reconcilePreset(deps(), p!.presetId);
  assert.equal(first.kind, 'executed');
  assert.equal(first.kind === 'executed' && first.created, 3);
  const rows = await outboxRows(p!.presetId, 'build-requests');
  assert.equal(rows.length, 3);
  assert.ok(rows.every((r) => r.published_at && r.priority === 3));
  assert.equal((await env.queues.buildRequests.getJobCounts('prioritized', 'wait')).prioritized, 3);

  // Starting builds count: no more creates while they run.
  const counter = countingPool(env.db.pool);
  const second = await reconcilePreset(deps({}, counter.pool), p!.presetId);
  assert.equal(second.kind, 'noop');
  assert.equal(counter.count(), 1, 'a no-op reconcile is one SQL statement');

  await completePendingBuilds(env.db.pool, { presetId: p!.presetId });
  counter.reset();
  assert.equal((await reconcilePreset(deps({}, counter.pool), p!.presetId)).kind, 'noop');
  assert.equal(counter.count(), 1);
  assert.deepEqual(await prebuildCounts(env.db.pool, p!.presetId), { running: 3, pending: 0, failed: 0, total: 3 });
});

test('expired prebuilds are deleted and replaced; invalidated ones too', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 2, ttlSeconds: 3600 }]);
  await reconcilePreset(deps(), p!.presetId);
  await completePendingBuilds(env.db.pool, { presetId: p!.presetId });
  const outcome = await reconcilePreset(deps(), p!.presetId, { now: new Date(Date.now() + 3_601_000) });
  assert.equal(outcome.kind, 'executed');
  assert.equal(outcome.kind === 'executed' && outcome.deleted, 2);
  assert.equal(outcome.kind === 'executed' && outcome.created, 2);
  const deletes = (await outboxRows(p!.presetId, 'build-requests')).filter((r) => r.priority === 2);
  assert.equal(deletes.length, 2, 'delete requests outrank creates');
  // The TTL expiry timer of a fresh pool is armed at createdAt + ttl + 1 ms.
  await completePendingBuilds(env.db.pool, { presetId: p!.presetId });
  const settled = await reconcilePreset(deps(), p!.presetId);
  assert.equal(settled.kind, 'noop');
  assert.ok(settled.kind === 'noop' && settled.wakeAt && settled.wakeAt.getTime() > Date.now() + 3_590_000);

  await env.db.pool.query('UPDATE presets SET invalidated_at = now() WHERE id = $1', [p!.presetId]);
  const inv = await reconcilePreset(deps(), p!.presetId);
  assert.equal(inv.kind === 'executed' && inv.deleted, 2);
});

test('activating a new version rotates the pools', async () => {
  const [old] = await seedPresets(env.db.pool, [{ instances: 2 }]);
  await reconcilePreset(deps(), old!.presetId);
  await completePendingBuilds(env.db.pool, { presetId: old!.presetId });
  const { presetIds } = await seedVersion(env.db.pool, old!.templateId, [{ instances: 2 }]);
  const drained = await reconcilePreset(deps(), old!.presetId);
  assert.equal(drained.kind === 'executed' && drained.deleted, 2);
  assert.equal(drained.kind === 'executed' && drained.created, 0);
  const fresh = await reconcilePreset(deps(), presetIds[0]!);
  assert.equal(fresh.kind === 'executed' && fresh.created, 2);
  await completePendingBuilds(env.db.pool);
  assert.equal((await prebuildCounts(env.db.pool, old!.presetId)).total, 0);
  assert.equal((await prebuildCounts(env.db.pool, presetIds[0]!)).running, 2);
});

test('a schedule boundary changes desired at the instant, and the exact wake-up is armed', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 1, timezone: 'UTC', schedules: [{ cron: '* 9-17 * * *', instances: 3 }] }]);
  const before = new Date('2030-06-03T08:59:59.000Z');
  const boundary = new Date('2030-06-03T09:00:00.000Z');
  const a = await reconcilePreset(deps(), p!.presetId, { now: before });
  assert.equal(a.kind === 'executed' && a.view.desiredIfActive, 1);
  assert.equal(a.kind === 'executed' && a.created, 1);
  assert.equal(a.kind === 'executed' && a.wakeAt?.getTime(), boundary.getTime());
  const job = await env.queues.reconcile.getJob(`wake-${p!.presetId}-${boundary.getTime()}`);
  assert.ok(job, 'a delayed wake-up with the boundary in its id');
  assert.equal(job.opts.delay, 1_000);
  const b = await reconcilePreset(deps(), p!.presetId, { now: boundary });
  assert.equal(b.kind === 'executed' && b.view.desiredIfActive, 3);
  assert.equal(b.kind === 'executed' && b.created, 2, 'starting builds reduce creation');
});

test('backoff after a failure, then recovery', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 1 }]);
  await reconcilePreset(deps(), p!.presetId);
  await failPendingBuilds(env.db.pool, p!.presetId);
  const backedOff = await reconcilePreset(deps(), p!.presetId);
  assert.equal(backedOff.kind, 'noop');
  assert.ok(backedOff.kind === 'noop' && backedOff.view.plan.actions.some((x) => x.type === 'backoff'));
  assert.ok(backedOff.kind === 'noop' && backedOff.wakeAt && backedOff.wakeAt.getTime() > Date.now() + 55_000, 'backoff end armed');
  const retried = await reconcilePreset(deps(), p!.presetId, { now: minutesFromNow(2) });
  assert.equal(retried.kind === 'executed' && retried.created, 1);
  await completePendingBuilds(env.db.pool, { presetId: p!.presetId });
  const healthy = await reconcilePreset(deps(), p!.presetId, { now: minutesFromNow(3) });
  assert.equal(healthy.kind, 'noop');
  assert.ok(healthy.kind === 'noop' && !healthy.view.plan.actions.some((x) => x.type === 'backoff'));
  assert.deepEqual(await prebuildCounts(env.db.pool, p!.presetId), { running: 1, pending: 0, failed: 1, total: 2 });
});

test('the failure limit stops creation and is announced once', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 1 }]);
  for (let i = 0; i < 3; i++) {
    const o = await reconcilePreset(deps(), p!.presetId, { now: minutesFromNow(10 * i) });
    assert.equal(o.kind === 'executed' && o.created, 1, `attempt ${i + 1}`);
    await failPendingBuilds(env.db.pool, p!.presetId, `boom ${i + 1}`);
  }
  const limited = await reconcilePreset(deps(), p!.presetId, { now: minutesFromNow(40) });
  assert.equal(limited.kind === 'executed' && limited.created, 0);
  for (let i = 0; i < 2; i++) await reconcilePreset(deps(), p!.presetId, { now: minutesFromNow(50 + i) });
  const { rows } = await env.db.pool.query('SELECT status FROM presets WHERE id = $1', [p!.presetId]);
  assert.equal(rows[0].status, 'hard_limited');
  const events = await outboxRows(p!.presetId, 'notifications');
  assert.equal(events.length, 1);
  assert.equal(events[0]!.name, 'preset-hard-limited');
  assert.equal((await prebuildCounts(env.db.pool, p!.presetId)).total, 3, 'no create after the limit');
});

test('a build request that cannot be created is recorded as failed and marks the preset validation_failed once', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 2 }], { declarations: [{ name: 'region', required: true }] });
  const o = await reconcilePreset(deps(), p!.presetId);
  assert.equal(o.kind === 'executed' && o.failedRequests, 1);
  assert.equal(o.kind === 'executed' && o.created, 0);
  await reconcilePreset(deps(), p!.presetId, { now: minutesFromNow(30) });
  const { rows } = await env.db.pool.query('SELECT status, status_reason FROM presets WHERE id = $1', [p!.presetId]);
  assert.equal(rows[0].status, 'validation_failed');
  assert.match(rows[0].status_reason, /region/);
  const counts = await prebuildCounts(env.db.pool, p!.presetId);
  assert.deepEqual(counts, { running: 0, pending: 0, failed: 1, total: 1 });
  const events = await outboxRows(p!.presetId, 'notifications');
  assert.deepEqual(events.map((e) => e.name), ['preset-validation-failed']);
});

test('paused reconciliation does nothing', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 2 }]);
  await setPaused(env.db.pool, true);
  try {
    assert.equal((await reconcilePreset(deps(), p!.presetId)).kind, 'paused');
    assert.equal((await prebuildCounts(env.db.pool, p!.presetId)).total, 0);
  } finally {
    await setPaused(env.db.pool, false);
  }
});

test('a preset paused between the first snapshot and the lock is reported paused, and nothing is written', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 2 }]);
  // The first snapshot runs on pool.query; the locked re-read needs a checked-out client. Pausing just before the
  // first checkout puts the pause between the two reads, as an operator's pause racing a reconcile would.
  const pausing = new Proxy(env.db.pool, {
    get(target, prop, receiver) {
      if (prop === 'connect') return async () => (await setPaused(target, true), target.connect());
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  try {
    assert.deepEqual(await reconcilePreset(deps({}, pausing), p!.presetId), { kind: 'paused' });
    assert.equal((await prebuildCounts(env.db.pool, p!.presetId)).total, 0);
    assert.equal((await outboxRows(p!.presetId, 'build-requests')).length, 0);
  } finally {
    await setPaused(env.db.pool, false);
  }
});

test('the global in-flight cap limits creates and arms a retry', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 5 }]);
  const busy = await inflightCreates(env.db.pool);
  const o = await reconcilePreset(deps({ maxInflightPrebuildBuilds: busy + 2, capSharing: 'fifo' }), p!.presetId);
  assert.equal(o.kind === 'executed' && o.created, 2);
  assert.equal(o.kind === 'executed' && o.capped, true);
  assert.ok(o.kind === 'executed' && o.wakeAt && o.wakeAt.getTime() - Date.now() < 2_500);
});

test('an unknown preset is reported missing', async () => {
  assert.equal((await reconcilePreset(deps(), '99999999-9999-4999-8999-999999999999')).kind, 'missing');
});

test('unusable stored schedules fall back to the base count and are shown on the preset, then cleared', async () => {
  const [p] = await seedPresets(env.db.pool, [{ instances: 2 }]);
  await env.db.pool.query(`UPDATE presets SET schedules = '{"not":"a list"}' WHERE id = $1`, [p!.presetId]);
  const o = await reconcilePreset(deps(), p!.presetId);
  assert.equal(o.kind === 'executed' && o.created, 2);
  const read = async () => (await env.db.pool.query('SELECT schedule_error FROM presets WHERE id = $1', [p!.presetId])).rows[0].schedule_error;
  assert.match(await read(), /not a list/);
  await env.db.pool.query(`UPDATE presets SET timezone = 'Mars/Olympus', schedules = '[{"cron":"* 9-17 * * *","instances":5}]' WHERE id = $1`, [p!.presetId]);
  const bad = await reconcilePreset(deps(), p!.presetId);
  assert.equal(bad.kind === 'noop' && bad.view.desiredIfActive, 2, 'base count when the zone is invalid');
  assert.ok(await read());
  await env.db.pool.query(`UPDATE presets SET timezone = '', schedules = '[]' WHERE id = $1`, [p!.presetId]);
  await reconcilePreset(deps(), p!.presetId);
  assert.equal(await read(), null);
});
