import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createQueueSet, createRedis, type QueueSet, type RedisClient } from '@warmpool/bus';
import { createLogger, loadConfig } from '@warmpool/runtime';
import { signatureHeaders, startNotifier, type Notifier } from '../src/index.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../../../test/support/env.js';
import { seedPresets } from '../../../test/support/seed.js';
import { waitFor } from '../../../test/support/wait.js';
import { exampleProcess } from './example-process.js';

// The shipped example receiver (examples/webhook-receiver.mjs), run as its own process.
const SECRET = 'example-receiver-secret-42';
const receiver = exampleProcess('webhook-receiver.mjs', { WARMPOOL_WEBHOOK_SECRET: SECRET });
const stdoutLines = receiver.lines;
const url = () => `http://127.0.0.1:${receiver.port()}/`;

async function postSigned(body: string, options: { timestamp?: number; secret?: string } = {}): Promise<number> {
  // The same body is the same delivery (a retry), as the notifier's webhook-id is per delivery.
  const id = createHash('sha256').update(body).digest('hex').slice(0, 32);
  const headers = signatureHeaders([options.secret ?? SECRET], id, body, (options.timestamp ?? Math.floor(Date.now() / 1000)) * 1000);
  const response = await fetch(url(), { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  await response.arrayBuffer();
  return response.status;
}

test('the example receiver prints a verified message once and rejects bad signatures, replays and junk', async () => {
  const body = JSON.stringify({ id: randomUUID(), type: 'preset-hard-limited', message: { title: 'hello' } });
  const printedBefore = stdoutLines.length;
  assert.equal(await postSigned(body), 200);
  assert.equal(await postSigned(body), 200, 'a retry is acknowledged');
  assert.equal(await postSigned(body, { secret: 'not-the-right-secret' }), 401);
  assert.equal(await postSigned(body, { timestamp: Math.floor(Date.now() / 1000) - 301 }), 401, 'replay of an old request');
  assert.equal(await postSigned('not json'), 400);
  await waitFor(() => stdoutLines.length > printedBefore, { what: 'printed line' });
  assert.deepEqual(stdoutLines.slice(printedBefore), [body], 'printed once, as one line');
  assert.match(receiver.stderr(), /rejected: signature mismatch/);
  assert.match(receiver.stderr(), /rejected: timestamp outside/);
});

test('end to end: a failure-limit event reaches the example receiver signed, printed once despite a duplicate event', async () => {
  const db: TestDatabase = await createTestDatabase();
  const queuePrefix = await createTestQueuePrefix();
  let notifier: Notifier | undefined;
  let producer: RedisClient | undefined;
  let queues: QueueSet | undefined;
  try {
    const [seeded] = await seedPresets(db.pool, [{ name: 'flaky' }]);
    await db.pool.query(`INSERT INTO users (username) VALUES ('root') RETURNING id`).then(({ rows }) =>
      db.pool.query(`INSERT INTO role_assignments (user_id, role) VALUES ($1, 'owner')`, [rows[0]!.id]),
    );
    const config = loadConfig({ DATABASE_URL: db.url, REDIS_URL, WARMPOOL_QUEUE_PREFIX: queuePrefix.prefix, WARMPOOL_WEBHOOK_URL: url(), WARMPOOL_WEBHOOK_SECRET: SECRET });
    notifier = await startNotifier({ config, logger: createLogger('notifier-test', { level: 'silent' }), pool: db.pool, healthPort: 0 });
    producer = createRedis(REDIS_URL, { role: 'producer' });
    queues = createQueueSet(producer, queuePrefix.prefix);
    const event = { type: 'preset-hard-limited', presetId: seeded!.presetId, transitionAt: new Date().toISOString(), failures: 3, lastError: 'exit status 1' };
    const printedBefore = stdoutLines.length;
    await queues.notifications.add(event.type, event, { jobId: 'first' });
    await queues.notifications.add(event.type, event, { jobId: 'redelivered' });
    await waitFor(async () => {
      const { rows } = await db.pool.query<{ status: string }>(`SELECT status FROM notification_deliveries WHERE preset_id = $1`, [seeded!.presetId]);
      return rows[0]?.status === 'delivered';
    }, { what: 'delivered' });
    await waitFor(async () => (await queues!.notifications.getJob('redelivered'))?.finishedOn, { what: 'duplicate processed' });
    const ours = () => stdoutLines.slice(printedBefore).filter((l) => l.includes(seeded!.presetId));
    await waitFor(() => ours().length > 0, { what: 'message printed' });
    const printed = ours();
    assert.equal(printed.length, 1);
    const message = JSON.parse(printed[0]!) as { type: string; recipients: { username: string }[] };
    assert.equal(message.type, 'preset-hard-limited');
    assert.deepEqual(message.recipients.map((r) => r.username), ['root']);

    const base = `http://127.0.0.1:${(notifier.healthServer!.address() as AddressInfo).port}`;
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /warmpool_notification_deliveries_total\{channel="webhook",result="delivered"[^}]*\} [1-9]/);
  } finally {
    await notifier?.close();
    await queues?.close();
    producer?.disconnect();
    await queuePrefix.cleanup();
    await db.drop();
  }
});
