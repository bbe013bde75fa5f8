import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';

import { waitFor } from '../support/wait.js';
import { createLogger, healthPortFromEnv, serveHealth, watchWorkerProgress, workerLiveness } from '@warmpool/runtime';

test('a running worker that shows no activity while jobs wait is reported stalled', async () => {
  const worker = new EventEmitter();
  let waiting = 0;
  const probe = watchWorkerProgress(worker, { getWaitingCount: async () => waiting }, 50);
  waiting = 3;
  assert.equal(await probe(), true, 'within the threshold');
  await waitFor(async () => !(await probe()), { timeoutMs: 2_000, what: 'jobs waiting and no activity past the threshold' });
  waiting = 0;
  assert.equal(await probe(), true, 'idle with an empty queue is healthy');
  waiting = 3;
  worker.emit('active');
  assert.equal(await probe(), true, 'activity resets the watch');
});

test('WARMPOOL_HEALTH_PORT is optional and validated with its name', () => {
  assert.equal(healthPortFromEnv({}), undefined);
  assert.equal(healthPortFromEnv({ WARMPOOL_HEALTH_PORT: '9101' }), 9101);
  assert.throws(() => healthPortFromEnv({ WARMPOOL_HEALTH_PORT: 'abc' }), /WARMPOOL_HEALTH_PORT/);
});

test('worker liveness needs every worker running, every connection ready, a PING answer and progress; a hung Redis fails it', async () => {
  let running = true;
  const worker = { isRunning: () => running };
  const connection = { status: 'ready' };
  let ping: () => Promise<string> = async () => 'PONG';
  let progressing = true;
  const live = workerLiveness({ workers: [worker], connections: [connection], producer: { ping: () => ping() }, progressing: async () => progressing });
  assert.equal(await live(), true);
  running = false;
  assert.equal(await live(), false, 'a stopped worker');
  running = true;
  connection.status = 'reconnecting';
  assert.equal(await live(), false, 'a worker connection not ready');
  connection.status = 'ready';
  progressing = false;
  assert.equal(await live(), false, 'jobs waiting, no progress');
  progressing = true;
  ping = () => new Promise<string>(() => undefined);
  assert.equal(await live(), false, 'a PING that never answers');
});

test('serveHealth serves nothing without a port, and answers /healthz with one', async () => {
  const logger = createLogger('test', { level: 'silent' });
  const none = await serveHealth(undefined, '127.0.0.1', async () => ({ ok: true, details: {} }), logger);
  assert.equal(none.server, undefined);
  await none.close();
  const some = await serveHealth(0, '127.0.0.1', async () => ({ ok: false, details: { why: 'test' } }), logger);
  try {
    const address = some.server!.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { ok: false, why: 'test' });
  } finally {
    await some.close();
  }
  assert.equal(some.server!.listening, false, 'closed');
});
