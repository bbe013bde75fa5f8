import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';

import { waitFor } from '../support/wait.js';
import { healthPortFromEnv, watchWorkerProgress } from '@warmpool/runtime';

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
