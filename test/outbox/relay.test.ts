import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueSet, createRedis, type QueueSet } from '@warmpool/bus';
import { insertOutbox, withTransaction } from '@warmpool/db';
import { OutboxRelay } from '@warmpool/pipeline';
import { createLogger } from '@warmpool/runtime';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
const logger = createLogger('test', { level: 'silent' });

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
});
after(async () => {
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

const message = (key: string, priority = 0) => ({ queue: 'build-requests', name: 'build-requested', payload: { key }, idempotencyKey: key, priority });

test('flush publishes every committed row once, with job id = idempotency key and its priority', async () => {
  await withTransaction(db.pool, (c) => insertOutbox(c, [message('a', 3), message('b', 1), message('a', 3)]));
  const relay = new OutboxRelay(db.pool, queues, logger);
  assert.equal(await relay.flush(), 2);
  assert.equal(await relay.flush(), 0);
  const jobs = await queues.buildRequests.getJobs(['prioritized', 'wait']);
  assert.deepEqual(jobs.map((j) => j.id).sort(), ['a', 'b']);
  assert.equal(jobs.find((j) => j.id === 'b')?.opts.priority, 1);
});

test('a row published but not marked (crash before commit) is re-published as the same job', async () => {
  await withTransaction(db.pool, (c) => insertOutbox(c, [message('c')]));
  // Simulate the crash window: the job reaches Redis, but the transaction marking the row never commits.
  await queues.buildRequests.add('build-requested', { key: 'c' }, { jobId: 'c' });
  const relay = new OutboxRelay(db.pool, queues, logger);
  assert.equal(await relay.flush(), 1);
  const jobs = (await queues.buildRequests.getJobs(['prioritized', 'wait'])).filter((j) => j.id === 'c');
  assert.equal(jobs.length, 1);
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`);
  assert.equal(rows[0].n, 0);
});

test('rows rolled back with their transaction are never published', async () => {
  await assert.rejects(
    withTransaction(db.pool, async (c) => {
      await insertOutbox(c, [message('rolled-back')]);
      throw new Error('boom');
    }),
    /boom/,
  );
  const relay = new OutboxRelay(db.pool, queues, logger);
  await relay.flush();
  assert.equal(await queues.buildRequests.getJob('rolled-back'), undefined);
});

test('the polling relay delivers rows written by another process that never flushed', async () => {
  const relay = new OutboxRelay(db.pool, queues, logger, { pollMs: 50 });
  relay.start();
  try {
    await db.pool.query(`INSERT INTO outbox (queue, name, payload, idempotency_key) VALUES ('build-requests', 'build-requested', '{}', 'late')`);
    await waitFor(async () => (await queues.buildRequests.getJob('late')) !== undefined, { what: 'the polled row' });
  } finally {
    await relay.stop();
  }
  const { rows } = await db.pool.query(`SELECT published_at FROM outbox WHERE idempotency_key = 'late'`);
  assert.ok(rows[0].published_at);
});
