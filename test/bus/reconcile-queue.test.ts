import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, type Job } from 'bullmq';
import { armWakeUp, createQueueSet, createRedis, enqueueReconcile, QUEUES, queuePrefix, type QueueSet } from '@warmpool/bus';
import { createTestQueuePrefix, REDIS_URL } from '../support/env.js';
import { waitFor } from '../support/wait.js';

const PRESET = '11111111-1111-4111-8111-111111111111';
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let queues: QueueSet;
const connections: ReturnType<typeof createRedis>[] = [];
const connection = () => {
  const redis = createRedis(REDIS_URL, { role: 'worker' });
  connections.push(redis);
  return redis;
};

before(async () => {
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(connection(), prefix.prefix);
});
after(async () => {
  await queues.close();
  await Promise.all(connections.map((c) => c.quit()));
  await prefix.cleanup();
});

test('a trigger during an active reconcile yields exactly one more run; extra triggers coalesce', async () => {
  let release!: () => void;
  const blocked = new Promise<void>((r) => (release = r));
  const runs: string[] = [];
  let started!: () => void;
  const firstStarted = new Promise<void>((r) => (started = r));
  const worker = new Worker(
    QUEUES.reconcile,
    async (job: Job) => {
      runs.push(job.data.trigger);
      if (runs.length === 1) {
        started();
        await blocked;
      }
    },
    { connection: connection(), prefix: queuePrefix(prefix.prefix), concurrency: 4 },
  );
  try {
    await enqueueReconcile(queues.reconcile, PRESET, 'first');
    await firstStarted;
    // Three triggers while the first job is active: keepLastIfActive keeps one waiting run, with the latest data.
    await enqueueReconcile(queues.reconcile, PRESET, 'second');
    await enqueueReconcile(queues.reconcile, PRESET, 'third');
    await enqueueReconcile(queues.reconcile, PRESET, 'fourth');
    assert.equal(runs.length, 1, 'no concurrent run of the same preset');
    release();
    await waitFor(() => runs.length === 2, { what: 'the follow-up run' });
    await waitFor(async () => (await queues.reconcile.getJobCounts('wait', 'active', 'delayed', 'prioritized')).wait === 0);
    assert.equal(runs.length, 2);
    assert.equal(runs[1], 'fourth');
  } finally {
    await worker.close();
  }
});

test('arming the same wake-up twice creates one delayed job with a fixed id', async () => {
  const at = new Date(Date.now() + 60_000);
  await armWakeUp(queues.reconcile, PRESET, at, 'schedule-boundary');
  await armWakeUp(queues.reconcile, PRESET, at, 'schedule-boundary');
  const delayed = await queues.reconcile.getDelayed();
  const ids = delayed.map((j) => j.id);
  assert.deepEqual(ids, [`wake-${PRESET}-${at.getTime()}`]);
  assert.ok(Math.abs((delayed[0]!.opts.delay ?? 0) - 60_000) < 2_000);
});

test('malformed reconcile payloads are refused by the producer helper', async () => {
  await assert.rejects(enqueueReconcile(queues.reconcile, 'not-a-uuid', 'x'), /presetId/);
});
