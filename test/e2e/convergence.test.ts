import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueSet, createRedis, enqueueReconciles, type QueueSet } from '@warmpool/bus';
import { startProvisionerSim, type ProvisionerSim, type SimOptions } from '@warmpool/provisioner-sim';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { seedPresets } from '../support/seed.js';
import { eligibleCount } from '../support/pool-state.js';
import { waitFor } from '../support/wait.js';

// The whole loop in-process: reconciler (with its results worker) + simulated provisioner, real Redis and PostgreSQL.
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let reconciler: Reconciler;
let sim: ProvisionerSim;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
const logger = createLogger('test', { level: 'silent' });
const simOptions: SimOptions = { buildMs: 30, jitterMs: 20, failureRate: 0, agentReadyMs: 20, replacementRate: 0, concurrency: 20, seed: 7 };

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
  const config = testConfig(db.url, prefix.prefix, { WARMPOOL_BACKOFF_INTERVAL_MS: '1000', WARMPOOL_FAILURE_HARD_LIMIT: '3' });
  reconciler = await startReconciler({ config, logger, pool: db.pool, relayPollMs: 200, healthPort: 0 });
  sim = startProvisionerSim({ config, sim: simOptions, logger });
});
after(async () => {
  await sim.close();
  await reconciler.close();
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

const eligible = (presetId: string) => eligibleCount(db.pool, presetId);

test('pools of many presets converge to desired through the simulated provisioner and stay there', async () => {
  const presets = await seedPresets(db.pool, Array.from({ length: 20 }, (_, i) => ({ name: `p${i}`, instances: (i % 4) + 1 })));
  await enqueueReconciles(queues.reconcile, presets.map((p) => p.presetId), 'test');
  for (const [i, p] of presets.entries()) {
    await waitFor(async () => (await eligible(p.presetId)) === (i % 4) + 1, { timeoutMs: 20_000, what: `preset p${i} eligible` });
  }
  // Stable: another round of reconciles creates nothing more.
  const before = (await db.pool.query('SELECT count(*)::int AS n FROM builds')).rows[0].n;
  await enqueueReconciles(queues.reconcile, presets.map((p) => p.presetId), 'test');
  await waitFor(async () => (await queues.reconcile.getJobCounts('wait', 'active')).wait === 0);
  const afterCount = (await db.pool.query('SELECT count(*)::int AS n FROM builds')).rows[0].n;
  assert.equal(afterCount, before);
  for (const [i, p] of presets.entries()) assert.equal(await eligible(p.presetId), (i % 4) + 1);
});

test("the reconciler serves its own metrics: reconcile durations, creation durations, jobs, queue depth", async () => {
  const address = reconciler.healthServer!.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /warmpool_reconcile_duration_seconds_count\{[^}]*outcome="executed"[^}]*\} [1-9]/);
  assert.match(text, /warmpool_workspace_creation_duration_seconds_count\{[^}]*type="prebuild"[^}]*\} [1-9]/);
  assert.match(text, /warmpool_jobs_total\{queue="reconcile",result="completed"[^}]*\} [1-9]/);
  assert.match(text, /warmpool_queue_jobs\{queue="build-requests",state="wait"[^}]*\}/);
  assert.match(text, /process_cpu_user_seconds_total/);
});

test('a preset whose builds always fail backs off and stops at the failure limit, announced once', async () => {
  const [p] = await seedPresets(db.pool, [{ name: 'flaky', instances: 1, parameters: { sim_failure_rate: '1' } }]);
  await enqueueReconciles(queues.reconcile, [p!.presetId], 'test');
  await waitFor(async () => (await db.pool.query(`SELECT status FROM presets WHERE id = $1`, [p!.presetId])).rows[0].status === 'hard_limited', {
    timeoutMs: 30_000,
    what: 'hard limit',
  });
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM outbox WHERE queue = 'notifications' AND payload->>'presetId' = $1`, [p!.presetId]);
  assert.equal(rows[0].n, 1);
  const builds = await db.pool.query(
    `SELECT b.job_status, b.created_at FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.preset_id = $1 ORDER BY b.created_at`,
    [p!.presetId],
  );
  assert.equal(builds.rows.length, 3, 'exactly the failure limit of attempts');
  // Backoff spaced the attempts: each retry waited at least failures × interval (1 s) after the previous one.
  const gaps = builds.rows.slice(1).map((r, i) => r.created_at.getTime() - builds.rows[i]!.created_at.getTime());
  assert.ok(gaps.every((g) => g >= 900), `gaps ${gaps.join(', ')}`);
});

test('the simulator rejects malformed build requests without retrying them', async () => {
  const job = await queues.buildRequests.add('build-requested', { buildId: 'nope' });
  await waitFor(async () => (await job.getState()) === 'failed', { what: 'rejection' });
  const failed = await queues.buildRequests.getJob(job.id!);
  assert.equal(failed?.attemptsMade, 1, 'not retried although the queue allows 5 attempts');
  assert.match(failed?.failedReason ?? '', /malformed build request/);
});
