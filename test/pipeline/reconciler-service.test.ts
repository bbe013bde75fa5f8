import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueSet, createRedis, enqueueReconcile, enqueueReconciles, type QueueSet } from '@warmpool/bus';
import { createLogger } from '@warmpool/runtime';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { seedPresets } from '../support/seed.js';
import { completePendingBuilds, prebuildCounts } from '../support/fake-provisioner.js';
import { testConfig } from '../support/pipeline.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
const logger = createLogger('test', { level: 'silent' });
const running: Reconciler[] = [];

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
});
// Each test sees only its own reconcilers (another one could take its jobs).
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});
after(async () => {
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

async function start(overrides: Record<string, string> = {}, healthPort?: number, stallMs?: number): Promise<Reconciler> {
  const r = await startReconciler({
    config: testConfig(db.url, prefix.prefix, overrides),
    logger,
    pool: db.pool,
    relayPollMs: 200,
    ...(healthPort === undefined ? {} : { healthPort }),
    ...(stallMs === undefined ? {} : { stallMs }),
  });
  running.push(r);
  return r;
}

/** Sum over presets of prebuilds that exist or are being built, per preset. */
async function liveCounts(presetIds: string[]): Promise<Map<string, number>> {
  const { rows } = await db.pool.query<{ preset_id: string; n: number }>(
    `SELECT w.preset_id, count(*)::int AS n FROM workspaces w
     CROSS JOIN LATERAL (SELECT transition, job_status FROM builds WHERE workspace_id = w.id ORDER BY build_number DESC LIMIT 1) b
     WHERE w.preset_id = ANY($1::uuid[]) AND NOT w.deleted AND b.transition = 'start' AND b.job_status IN ('pending','running','succeeded')
     GROUP BY w.preset_id`,
    [presetIds],
  );
  return new Map(rows.map((r) => [r.preset_id, r.n]));
}

test('two reconcilers over 50 presets converge to desired and never exceed it', async () => {
  const seeds = Array.from({ length: 50 }, (_, i) => ({ name: `p${i}`, instances: 1 + (i % 3) }));
  const presets = await seedPresets(db.pool, seeds);
  const desired = new Map(presets.map((p, i) => [p.presetId, seeds[i]!.instances]));
  const ids = presets.map((p) => p.presetId);
  await start();
  await start();
  let samples = 0;
  const sample = async () => {
    samples++;
    for (const [id, n] of await liveCounts(ids)) assert.ok(n <= desired.get(id)!, `preset ${id}: ${n} > desired ${desired.get(id)}`);
  };
  await enqueueReconciles(queues.reconcile, ids, 'test');
  await waitFor(
    async () => {
      await sample();
      // Act as provisioner + results consumer: finish builds, trigger the presets again (twice, racing).
      await completePendingBuilds(db.pool);
      await Promise.all([enqueueReconciles(queues.reconcile, ids, 'build-finished'), enqueueReconciles(queues.reconcile, ids, 'build-finished')]);
      const counts = await Promise.all(ids.map((id) => prebuildCounts(db.pool, id)));
      return counts.every((c, i) => c.running === seeds[i]!.instances && c.total === seeds[i]!.instances);
    },
    { timeoutMs: 25_000, intervalMs: 100, what: 'convergence of 50 presets' },
  );
  await sample();
  assert.ok(samples > 2);
});

test('a trigger that arrives while the preset is being reconciled causes one more reconcile', async () => {
  const r = await start();
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  const completed: string[] = [];
  r.worker.on('completed', (job) => {
    if (job.data.presetId === p!.presetId && job.name === 'reconcile') completed.push(String(job.id));
  });
  // Hold the preset row lock: the reconcile has work, so it blocks inside its transaction (job active).
  const blocker = await db.pool.connect();
  await blocker.query('BEGIN');
  await blocker.query('SELECT id FROM presets WHERE id = $1 FOR UPDATE', [p!.presetId]);
  try {
    await enqueueReconcile(queues.reconcile, p!.presetId, 'first');
    await waitFor(async () => (await db.pool.query(`SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`)).rowCount, { what: 'reconcile waiting on the lock' });
    await enqueueReconcile(queues.reconcile, p!.presetId, 'second');
  } finally {
    await blocker.query('COMMIT');
    blocker.release();
  }
  await waitFor(() => completed.length >= 2, { what: 'the follow-up reconcile' });
  assert.equal((await prebuildCounts(db.pool, p!.presetId)).total, 1);
});

test('malformed reconcile payloads fail without retries and the worker keeps going', async () => {
  const r = await start();
  const bad = await queues.reconcile.add('reconcile', { presetId: 'not-a-uuid', trigger: 'x' });
  await waitFor(async () => (await queues.reconcile.getJob(bad.id!))?.failedReason, { what: 'the malformed job to fail' });
  const failed = (await queues.reconcile.getJob(bad.id!))!;
  assert.equal(failed.attemptsMade, 1, 'no retry of a malformed payload');
  assert.match(failed.failedReason, /presetId/);
  assert.ok(r.worker.isRunning());
});

test('a wake job is reconciled in place (no reconcile job is added), timed under its trigger', async () => {
  const r = await start({}, 0);
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  const results: { name: string; kind: unknown }[] = [];
  r.worker.on('completed', (job, result: { kind?: unknown }) => {
    if (job.data.presetId === p!.presetId) results.push({ name: job.name, kind: result?.kind });
  });
  await queues.reconcile.add('wake', { presetId: p!.presetId, trigger: 'timer' });
  await waitFor(() => results.length > 0, { what: 'the wake job to complete' });
  assert.deepEqual(results, [{ name: 'wake', kind: 'executed' }]);
  assert.equal((await prebuildCounts(db.pool, p!.presetId)).total, 1);
  const queued = await queues.reconcile.getJobs(['waiting', 'prioritized', 'delayed', 'active']);
  assert.deepEqual(queued.filter((j) => j.data.presetId === p!.presetId).map((j) => j.name), [], 'no reconcile job queued for it');
  const address = r.healthServer!.address();
  assert.ok(address && typeof address === 'object');
  const metrics = await (await fetch(`http://127.0.0.1:${address.port}/metrics`)).text();
  assert.match(metrics, /^warmpool_reconcile_duration_seconds_count\{service="reconciler",outcome="executed",trigger="timer"\} 1$/m);
});

test('the liveness endpoint reports a running worker as healthy', async () => {
  const r = await start({}, 0);
  const address = r.healthServer!.address();
  assert.ok(address && typeof address === 'object');
  await waitFor(() => r.isHealthy(), { what: 'the worker to connect' });
  const res = await fetch(`http://127.0.0.1:${address.port}/healthz`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { ok: boolean }).ok, true);
  await r.close();
  assert.equal(await r.isHealthy(), false);
});

test('liveness fails when the worker stops taking jobs, and recovers', async () => {
  const r = await start({}, undefined, 300);
  await waitFor(() => r.isHealthy(), { what: 'the worker to connect' });
  await r.worker.pause(true);
  const [p] = await seedPresets(db.pool, [{ instances: 0 }]);
  await enqueueReconcile(queues.reconcile, p!.presetId, 'stuck');
  await waitFor(async () => !(await r.isHealthy()), { timeoutMs: 5_000, what: 'the stall to be noticed' });
  r.worker.resume();
  await waitFor(() => r.isHealthy(), { timeoutMs: 5_000, what: 'recovery once jobs flow again' });
});
