import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueSet, createRedis, type QueueSet } from '@warmpool/bus';
import { createLogger } from '@warmpool/runtime';
import { startScheduler, type Scheduler } from '@warmpool/scheduler';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { seedPresets } from '../support/seed.js';
import { testConfig } from '../support/pipeline.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
const logger = createLogger('test', { level: 'silent' });
const started: Scheduler[] = [];

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
});
after(async () => {
  await Promise.all(started.map((s) => s.close()));
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

test('replicas share one tick scheduler; each tick enqueues one deduplicated reconcile per preset needing attention', async () => {
  const presets = await seedPresets(db.pool, [{ instances: 1 }, { instances: 2 }, { instances: 0 }]);
  const config = testConfig(db.url, prefix.prefix, { WARMPOOL_RECONCILE_INTERVAL_MS: '1000' });
  const replicas = await Promise.all([startScheduler({ config, logger, pool: db.pool }), startScheduler({ config, logger, pool: db.pool })]);
  started.push(...replicas);
  const schedulers = await queues.schedulerTick.getJobSchedulers();
  assert.equal(schedulers.length, 1);
  assert.equal(Number(schedulers[0]!.every), 1000);
  // No reconcile worker runs here, so the waiting reconcile jobs accumulate, one per preset at most.
  await waitFor(async () => (await queues.reconcile.getWaitingCount()) === 3, { timeoutMs: 5_000, what: 'a tick' });
  const waiting = await queues.reconcile.getJobs(['wait']);
  assert.deepEqual(waiting.map((j) => j.data.presetId).sort(), presets.map((p) => p.presetId).sort());
  assert.ok(waiting.every((j) => j.data.trigger === 'tick'));
  assert.equal(await replicas[0]!.tick(), 3);
  assert.equal(await queues.reconcile.getWaitingCount(), 3, 'dedup: ticks never pile up jobs for one preset');
});
