import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRequestKey, queuePrefix, watchDataLoss } from '@warmpool/bus';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { startScheduler } from '@warmpool/scheduler';
import { createLogger } from '@warmpool/runtime';
import { scanKeys, useTestDatabase, useTestQueues } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { seedPendingBuild } from '../support/seed.js';
import { waitFor } from '../support/wait.js';

// Redis losing its data (restart without persistence, failover to a lagging replica) is noticed within about a
// second, and what it lost is published again at once instead of after WARMPOOL_REPUBLISH_PENDING_AFTER_MS.

const db = useTestDatabase();
const bus = useTestQueues();

const marker = () => `${queuePrefix(bus.prefix)}:data-marker:reconciler`;
const loseEverything = async () => {
  for (const { key, server } of await scanKeys(bus.redis, `${queuePrefix(bus.prefix)}:*`)) await server.del(key);
};

test('the watcher calls back when its marker is gone (at start: a fresh Redis), and once the callback succeeded marks again', async () => {
  let calls = 0;
  let fail = true;
  const errors: unknown[] = [];
  const watcher = watchDataLoss(bus.redis, bus.prefix, 'test', async () => {
    calls++;
    if (fail) throw new Error('database away');
  }, { intervalMs: 20, onError: (err) => errors.push(err) });
  try {
    await waitFor(async () => calls >= 2, { what: 'a failed callback retried' });
    assert.equal(await bus.redis.exists(`${queuePrefix(bus.prefix)}:data-marker:test`), 0, 'not marked while the callback fails');
    assert.match(String(errors[0]), /database away/, 'the failure is reported, not swallowed');
    fail = false;
    await waitFor(async () => (await bus.redis.exists(`${queuePrefix(bus.prefix)}:data-marker:test`)) === 1, { what: 'the marker written' });
    const before = calls;
    await bus.redis.del(`${queuePrefix(bus.prefix)}:data-marker:test`);
    await waitFor(async () => calls > before, { what: 'the loss noticed' });
  } finally {
    await watcher.stop();
    await bus.redis.del(`${queuePrefix(bus.prefix)}:data-marker:test`);
  }
});

test('a reconciler publishes the pending build requests again right after Redis lost its data', async () => {
  // The republisher's age threshold (2 min) is far away: only the data-loss watcher can publish within the wait.
  const reconciler: Reconciler = await startReconciler({ config: testConfig(db.url, bus.prefix, { WARMPOOL_REPUBLISH_PENDING_AFTER_MS: '120000' }), logger: createLogger('test', { level: 'silent' }), pool: db.pool });
  try {
    await waitFor(async () => (await bus.redis.exists(marker())) === 1, { what: 'the marker written at start' });
    const key = buildRequestKey((await seedPendingBuild(db.pool)).buildId);
    // Published a moment ago; its job is about to be lost with everything else.
    await db.pool.query(`INSERT INTO outbox (queue, name, payload, idempotency_key, published_at) VALUES ('build-requests', 'build-requested', '{}', $1, now())`, [key]);
    await loseEverything();
    await waitFor(async () => (await bus.queues.buildRequests.getJob(key)) !== undefined, { what: 'the lost build request published again' });
    await waitFor(async () => (await bus.redis.exists(marker())) === 1, { what: 'marked again' });
    assert.ok(await bus.queues.buildRequests.getJob(key), 'under the same job id');
  } finally {
    await reconciler.close();
  }
});

test('a scheduler re-creates the tick job scheduler right after Redis lost its data (not at its 30 s re-check)', async () => {
  // The scheduler's periodic re-check would also re-create the job scheduler (within 30 s, inside waitFor's deadline),
  // so the test waits for what only the data-loss repair does: its log line, then checks the scheduler exists.
  const lines: { msg: string }[] = [];
  const logger = createLogger('test', { level: 'warn', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  const scheduler = await startScheduler({ config: testConfig(db.url, bus.prefix, { WARMPOOL_RECONCILE_INTERVAL_MS: '3600000' }), logger, pool: db.pool });
  const repairs = () => lines.filter((l) => l.msg.startsWith('Redis lost its data: tick scheduler re-created')).length;
  try {
    await waitFor(async () => (await bus.redis.exists(`${queuePrefix(bus.prefix)}:data-marker:scheduler`)) === 1, { what: 'the marker written at start' });
    assert.ok(await bus.queues.schedulerTick.getJobScheduler('tick'), 'created at start');
    const before = repairs();
    await loseEverything();
    await waitFor(async () => repairs() > before, { what: 'the data-loss repair' });
    assert.ok(await bus.queues.schedulerTick.getJobScheduler('tick'), 'the tick scheduler re-created');
  } finally {
    await scheduler.close();
  }
});
