import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueSet, createRedis, enqueueReconcile, type QueueSet } from '@warmpool/bus';
import { createLogger } from '@warmpool/runtime';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { seedPresets } from '../support/seed.js';
import { completePendingBuilds } from '../support/fake-provisioner.js';
import { testConfig } from '../support/pipeline.js';
import { waitFor } from '../support/wait.js';

// A claim must trigger the refill at once (BEHAVIOUR.md §5), not at the next tick. Throughput lives in `npm run bench`.
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
let reconciler: Reconciler;

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
  reconciler = await startReconciler({
    config: testConfig(db.url, prefix.prefix, { WARMPOOL_WORKER_CONCURRENCY: '16' }),
    logger: createLogger('test', { level: 'silent' }),
    pool: db.pool,
    relayPollMs: 1_000,
  });
});
after(async () => {
  await reconciler.close();
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

test('a claim-like trigger leads to the replacement build request within a fraction of a second', async (t) => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  await enqueueReconcile(queues.reconcile, p!.presetId, 'test');
  await waitFor(async () => (await db.pool.query('SELECT 1 FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.preset_id = $1', [p!.presetId])).rowCount);
  await completePendingBuilds(db.pool, { presetId: p!.presetId });
  const { rows: u } = await db.pool.query<{ id: string }>(`INSERT INTO users (username) VALUES ('claimant') RETURNING id`);
  const samples: number[] = [];
  const before = await queues.buildRequests.getJobCounts('prioritized', 'wait');
  let expected = before.prioritized! + before.wait!;
  for (let i = 0; i < 5; i++) {
    // The claim hands the prebuild to a user; then the preset is triggered at once (BEHAVIOUR.md §5).
    await db.pool.query(`UPDATE workspaces SET owner_id = $2 WHERE preset_id = $1 AND owner_id = '00000000-0000-0000-0000-000000000001'`, [p!.presetId, u[0]!.id]);
    const t0 = performance.now();
    await enqueueReconcile(queues.reconcile, p!.presetId, 'claim');
    expected += 1;
    await waitFor(async () => {
      const c = await queues.buildRequests.getJobCounts('prioritized', 'wait');
      return c.prioritized! + c.wait! >= expected;
    }, { intervalMs: 1, what: 'the replacement build request' });
    samples.push(performance.now() - t0);
    await completePendingBuilds(db.pool, { presetId: p!.presetId });
  }
  samples.sort((a, b) => a - b);
  t.diagnostic(`claim trigger -> build-requested job: median ${samples[2]!.toFixed(1)} ms, max ${samples[4]!.toFixed(1)} ms`);
  assert.ok(samples[2]! < 1_000);
});
