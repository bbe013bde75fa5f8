import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, type Job } from 'bullmq';
import { Cluster } from 'ioredis';
import { armWakeUps, BUILD_PRIORITY, createQueueSet, createRedis, enqueueReconciles, QUEUES, type QueueSet, type RedisClient } from '@warmpool/bus';
import { createLogger } from '@warmpool/runtime';
import { ensureTickScheduler } from '@warmpool/scheduler';
import { createTestQueuePrefix, REDIS_URL, scanKeys } from '../support/env.js';
import { waitFor } from '../support/wait.js';

// Redis Cluster runs a multi-key command or Lua script only when all its keys hash to one slot. Every key Warmpool
// writes (BullMQ's job, wait, priority, delayed, dedup, lock, stalled, scheduler keys and our own scheduler-upsert
// guard) must start with the prefix's hash tag `{name}`: then the slot is CRC16(name) for all of them.
// On a cluster (WARMPOOL_TEST_REDIS_URL=host:port,…) the test also asks the servers where the keys are.

const logger = createLogger('test', { level: 'silent' });
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let producer: RedisClient;
let workerConnection: RedisClient;
let queues: QueueSet;

before(async () => {
  prefix = await createTestQueuePrefix();
  producer = createRedis(REDIS_URL, { role: 'producer' });
  workerConnection = createRedis(REDIS_URL, { role: 'worker' });
  queues = createQueueSet(producer, prefix.prefix);
});
after(async () => {
  await queues.close();
  await producer.quit();
  await workerConnection.quit();
  await prefix.cleanup();
});

test('every queue, deduplication, lock and custom key of a prefix lands in the prefix slot', async () => {
  const presets = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
  await enqueueReconciles(queues.reconcile, presets, 'test'); // deduplication keys
  await armWakeUps(queues.reconcile, [{ presetId: presets[0]!, at: new Date(Date.now() + 3_600_000) }], 'test'); // delayed
  await queues.buildRequests.add('build-requested', { x: 1 }, { jobId: 'build-a', priority: BUILD_PRIORITY.create }); // prioritized
  assert.equal(await ensureTickScheduler(queues, producer, 60_000, logger), true); // job scheduler + our NX guard key

  // A worker holding a job (lock key) while another fails (failed set) and one completes (events stream, stalled check).
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let holding!: () => void;
  const isHolding = new Promise<void>((r) => (holding = r));
  const worker = new Worker(
    QUEUES.reconcile,
    async (job: Job) => {
      if (job.data.presetId === presets[1]) throw new Error('fails on purpose');
      holding();
      await held;
    },
    { connection: workerConnection, prefix: queues.prefix, concurrency: 2 },
  );
  try {
    await isHolding;
    await waitFor(async () => (await queues.reconcile.getFailedCount()) > 0 || undefined, { what: 'a failed reconcile' });
    const keys = await scanKeys(producer, `*${prefix.prefix}*`);
    const names = keys.map((k) => k.key);
    for (const kind of [/:reconcile:de:/, /:reconcile:delayed$/, /:reconcile:failed$/, /:reconcile:[^:]+:lock$/, /:reconcile:stalled-check$/, /:build-requests:prioritized$/, /:scheduler-upsert$/, /:scheduler-tick:repeat:/]) {
      assert.ok(names.some((n) => kind.test(n)), `a key matching ${String(kind)} exists (saw ${names.length} keys)`);
    }
    const outside = names.filter((n) => !n.startsWith(`${queues.prefix}:`));
    assert.deepEqual(outside, [], 'every key starts with the prefix hash tag');

    if (producer instanceof Cluster) {
      const slot = Number(await producer.cluster('KEYSLOT', queues.prefix));
      const slots = new Set(await Promise.all(names.map(async (n) => Number(await producer.cluster('KEYSLOT', n)))));
      assert.deepEqual([...slots], [slot], 'one slot for the whole prefix');
      assert.equal(new Set(keys.map((k) => `${k.server.options.host}:${k.server.options.port}`)).size, 1, 'one master holds every key of the prefix');
    }
  } finally {
    release();
    await worker.close();
  }
});
