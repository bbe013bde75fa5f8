import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue, Worker, type Job } from 'bullmq';
import { createRedis, queuePrefix, traceJobOptions, withJobSpan } from '@warmpool/bus';
import { startMemoryTracing, withSpan } from '@warmpool/runtime';
import { createTestQueuePrefix, REDIS_URL } from '../support/env.js';
import { waitFor } from '../support/wait.js';

// The trace context is stored with the job (BullMQ opts.telemetry.metadata), so every attempt of a job, a retry or a
// re-delivery after its worker died, is a span of the producer's trace; a delayed wake-up is linked instead.
let tracing: Awaited<ReturnType<typeof startMemoryTracing>>;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
const worker = createRedis(REDIS_URL, { role: 'worker' });

before(async () => {
  tracing = await startMemoryTracing();
  prefix = await createTestQueuePrefix();
});
after(async () => {
  await Promise.all([redis.quit(), worker.quit()]);
  await prefix.cleanup();
  await tracing.shutdown();
});

test('each attempt of a retried job is a span of the producer’s trace; a link-only job starts its own trace', async () => {
  const queue = new Queue('trace-probe', { connection: redis, prefix: queuePrefix(prefix.prefix) });
  const producer = await withSpan('producer', {}, async (span) => {
    await queue.add('retried', {}, { attempts: 2, backoff: { type: 'fixed', delay: 10 }, ...traceJobOptions() });
    await queue.add('wake', {}, traceJobOptions());
    return span.spanContext();
  });
  const consumer = new Worker(
    'trace-probe',
    (job: Job) =>
      withJobSpan(job, `consume ${job.name}`, {}, async () => {
        if (job.name === 'retried' && job.attemptsMade === 0) throw new Error('first attempt fails');
      }, { linkOnly: job.name === 'wake' }),
    { connection: worker, prefix: queuePrefix(prefix.prefix) },
  );
  try {
    const attempts = await waitFor(() => {
      const spans = tracing.spans().filter((s) => s.name === 'consume retried');
      return spans.length === 2 ? spans : undefined;
    }, { what: 'two attempt spans of the retried job' });
    assert.deepEqual(attempts.map((s) => [s.traceId, s.parentSpanId]), [[producer.traceId, producer.spanId], [producer.traceId, producer.spanId]]);
    assert.deepEqual(attempts.map((s) => s.attributes['warmpool.job.attempt']), [1, 2]);
    const wake = await waitFor(() => tracing.spans().find((s) => s.name === 'consume wake'), { what: 'the link-only job span' });
    assert.notEqual(wake.traceId, producer.traceId, 'a new trace');
    assert.equal(wake.parentSpanId, undefined);
    assert.deepEqual(wake.links.map((l) => l.context.spanId), [producer.spanId], 'linked to its producer');
  } finally {
    await consumer.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
});
