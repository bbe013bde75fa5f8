import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { buildRequestKey, notificationEventKey, notificationKey, QUEUES, type NotificationEvent } from '@warmpool/bus';
import { insertOutbox, requeueUnrecordedNotificationEvents, withTransaction } from '@warmpool/db';
import { OutboxRelay, withOutboxTransaction } from '@warmpool/operations';
import { createLogger } from '@warmpool/runtime';
import { useTestDatabase, useTestQueues } from '../support/env.js';
import { seedPendingBuild } from '../support/seed.js';
import { waitFor } from '../support/wait.js';

const db = useTestDatabase();
const bus = useTestQueues();
const logger = createLogger('test', { level: 'silent' });

const message = (key: string, priority = 0) => ({ queue: 'build-requests', name: 'build-requested', payload: { key }, idempotencyKey: key, priority });

test('flush publishes every committed row once, with job id = idempotency key and its priority', async () => {
  await withTransaction(db.pool, (c) => insertOutbox(c, [message('a', 3), message('b', 1), message('a', 3)]));
  const relay = new OutboxRelay(db.pool, bus.queues, logger);
  assert.equal(await relay.flush(), 2);
  assert.equal(await relay.flush(), 0);
  const jobs = await bus.queues.buildRequests.getJobs(['prioritized', 'wait']);
  assert.deepEqual(jobs.map((j) => j.id).sort(), ['a', 'b']);
  assert.equal(jobs.find((j) => j.id === 'b')?.opts.priority, 1);
});

test('a row published but not marked (crash before commit) is re-published as the same job', async () => {
  await withTransaction(db.pool, (c) => insertOutbox(c, [message('c')]));
  // Simulate the crash window: the job reaches Redis, but the transaction marking the row never commits.
  await bus.queues.buildRequests.add('build-requested', { key: 'c' }, { jobId: 'c' });
  const relay = new OutboxRelay(db.pool, bus.queues, logger);
  assert.equal(await relay.flush(), 1);
  const jobs = (await bus.queues.buildRequests.getJobs(['prioritized', 'wait'])).filter((j) => j.id === 'c');
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
  const relay = new OutboxRelay(db.pool, bus.queues, logger);
  await relay.flush();
  assert.equal(await bus.queues.buildRequests.getJob('rolled-back'), undefined);
});

test('the polling relay delivers rows written by another process that never flushed', async () => {
  const relay = new OutboxRelay(db.pool, bus.queues, logger, { pollMs: 50 });
  relay.start();
  try {
    await db.pool.query(`INSERT INTO outbox (queue, name, payload, idempotency_key) VALUES ('build-requests', 'build-requested', '{}', 'late')`);
    await waitFor(async () => (await bus.queues.buildRequests.getJob('late')) !== undefined, { what: 'the polled row' });
  } finally {
    await relay.stop();
  }
  const { rows } = await db.pool.query(`SELECT published_at FROM outbox WHERE idempotency_key = 'late'`);
  assert.ok(rows[0].published_at);
});

test('build requests of builds still pending long after publishing are published again (Redis lost them)', async () => {
  const { requeueStaleBuildRequests } = await import('@warmpool/db');
  const { buildId } = await seedPendingBuild(db.pool);
  const key = buildRequestKey(buildId);
  await db.pool.query(
    `INSERT INTO outbox (queue, name, payload, idempotency_key, published_at) VALUES ('build-requests', 'build-requested', '{}', $1, now() - interval '10 minutes')`,
    [key],
  );
  assert.equal(await bus.queues.buildRequests.getJob(key), undefined, 'the job is gone, as after a Redis data loss');
  assert.equal(await requeueStaleBuildRequests(db.pool, 60_000), 1);
  await new OutboxRelay(db.pool, bus.queues, logger).flush();
  assert.ok(await bus.queues.buildRequests.getJob(key), 'published again under the same job id');
  await db.pool.query(`UPDATE builds SET job_status = 'running' WHERE id = $1`, [buildId]);
  await db.pool.query(`UPDATE outbox SET published_at = now() - interval '10 minutes' WHERE idempotency_key = $1`, [key]);
  assert.equal(await requeueStaleBuildRequests(db.pool, 60_000), 0, 'started builds are left alone');
});

test('withOutboxTransaction relays what it committed, and nothing of a rolled-back transaction', async () => {
  const relay = new OutboxRelay(db.pool, bus.queues, logger);
  const deps = { pool: db.pool, relay, logger };
  await withOutboxTransaction(deps, (c) => insertOutbox(c, [message('tx-1')]));
  assert.ok(await bus.queues.buildRequests.getJob('tx-1'), 'published right after the commit, no flush by the caller');
  await assert.rejects(
    withOutboxTransaction(deps, async (c) => {
      await insertOutbox(c, [message('tx-2')]);
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await bus.queues.buildRequests.getJob('tx-2'), undefined);
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM outbox WHERE idempotency_key = 'tx-2'`);
  assert.equal(rows[0].n, 0);
});

test('a failed flush after the commit is logged, the result still returned and the row left for the poll', async () => {
  const failing = { flush: () => Promise.reject(new Error('redis away')) } as unknown as OutboxRelay;
  const warnings: unknown[] = [];
  const spy = { ...logger, warn: (...args: unknown[]) => void warnings.push(args) } as unknown as typeof logger;
  const result = await withOutboxTransaction({ pool: db.pool, relay: failing, logger: spy }, async (c) => {
    await insertOutbox(c, [message('tx-3')]);
    return 42;
  });
  assert.equal(result, 42);
  assert.equal(warnings.length, 1);
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM outbox WHERE idempotency_key = 'tx-3' AND published_at IS NULL`);
  assert.equal(rows[0].n, 1);
});

test('QueueSet lists every queue once and finds a queue by its name', () => {
  assert.equal(bus.queues.all.length, Object.keys(QUEUES).length);
  for (const name of Object.values(QUEUES)) assert.equal(bus.queues.byName(name)?.name, name);
  assert.equal(bus.queues.byName('no-such-queue'), undefined);
  assert.equal(bus.queues.byName('prefix'), undefined, 'only bus.queues, never the other members of the set');
});

// A Redis failover can drop the last writes, among them a notification event the relay had just published (its
// outbox row is marked published). Events the notifier never recorded are published again after a while.
const hardLimited = (): NotificationEvent => ({ type: 'preset-hard-limited', presetId: randomUUID(), transitionAt: new Date().toISOString(), failures: 3, lastError: null });

/** An outbox row for the event, published (and created) `ageMinutes` ago. */
async function published(event: NotificationEvent, ageMinutes: number): Promise<string> {
  const key = notificationKey(event);
  await withTransaction(db.pool, (c) => insertOutbox(c, [{ queue: QUEUES.notifications, name: event.type, payload: event, idempotencyKey: key, priority: 0 }]));
  await db.pool.query(`UPDATE outbox SET created_at = now() - make_interval(mins => $2), published_at = now() - make_interval(mins => $2) WHERE idempotency_key = $1`, [key, ageMinutes]);
  return key;
}

test('a published notification event the notifier never recorded is published again; recorded, recent and old ones are not', async () => {
  const lost = hardLimited();
  const recorded = hardLimited();
  const lostKey = await published(lost, 5);
  const recordedKey = await published(recorded, 5);
  const recentKey = await published(hardLimited(), 0);
  const oldKey = await published(hardLimited(), 120);
  await db.pool.query(`INSERT INTO notification_deliveries (event_key, kind, preset_id) VALUES ($1, $2, $3)`, [notificationEventKey(recorded), recorded.type, recorded.presetId]);

  assert.equal(await requeueUnrecordedNotificationEvents(db.pool, 60_000), 1);
  const { rows } = await db.pool.query<{ idempotency_key: string; republish: boolean }>(
    `SELECT idempotency_key, published_at IS NULL AS republish FROM outbox WHERE queue = $1 ORDER BY idempotency_key`,
    [QUEUES.notifications],
  );
  const marked = Object.fromEntries(rows.map((r) => [r.idempotency_key, r.republish]));
  assert.deepEqual(marked, { [lostKey]: true, [recordedKey]: false, [recentKey]: false, [oldKey]: false });

  await new OutboxRelay(db.pool, bus.queues, logger).flush();
  assert.ok(await bus.queues.notifications.getJob(lostKey), 'published again under the same job id');
  assert.equal(await requeueUnrecordedNotificationEvents(db.pool, 60_000), 0, 'just republished: not again before the delay');
});
