import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { queuePrefix, wireService } from '@warmpool/bus';
import { createLogger } from '@warmpool/runtime';
import { createTestQueuePrefix, REDIS_URL } from '../support/env.js';
import { within } from '../support/wait.js';

// The Redis wiring the worker services share (bus/wiring.ts): workers on their own connections under the prefix,
// liveness over all of them, and one close in the safe order.

let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const lines: { msg: string; queue?: string }[] = [];
const logger = createLogger('test', { level: 'error', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });

before(async () => {
  prefix = await createTestQueuePrefix();
});
after(async () => {
  await prefix.cleanup();
});

test('close stops feeders first, lets an active job finish, drains, then closes queues and connections; twice is once', async () => {
  const wiring = wireService({ name: 'wiring-test', redis: REDIS_URL, queuePrefix: prefix.prefix, logger });
  const order: string[] = [];
  let release!: () => void;
  const started = new Promise<void>((resolve) => {
    wiring.worker(
      'wiring-a',
      async () => {
        resolve();
        await new Promise<void>((r) => (release = r));
        order.push('job finished');
      },
      { concurrency: 1 },
    );
  });
  wiring.beforeWorkers(() => order.push('feeder stopped'));
  wiring.afterWorkers(async () => void order.push(`drained (producer ${wiring.producer.status})`));
  const queue = new Queue('wiring-a', { connection: wiring.producer, prefix: queuePrefix(prefix.prefix) });
  await queue.add('job', {});
  await within(started, 'the job to start');
  assert.equal(await wiring.liveness()(), true, 'live while running');
  await queue.close();
  const closing = wiring.close();
  assert.equal(wiring.close(), closing, 'a second close is the first');
  setTimeout(() => release(), 50);
  await within(closing, 'close');
  assert.deepEqual(order, ['feeder stopped', 'job finished', 'drained (producer ready)']);
  assert.equal(await wiring.liveness()(), false, 'not live once closed');
});

test('a worker error is logged with its queue, and the Redis status of the workers is reported', async () => {
  const wiring = wireService({ name: 'wiring-test', redis: REDIS_URL, queuePrefix: prefix.prefix, logger });
  const worker = wiring.worker('wiring-b', async () => undefined, { concurrency: 1 });
  await within(worker.waitUntilReady(), 'the worker to connect');
  assert.equal(wiring.redisStatus(), 'ready');
  worker.emit('error', new Error('boom'));
  assert.deepEqual(lines.map((l) => [l.msg, l.queue]), [['worker error', 'wiring-b']]);
  await wiring.close();
});
