import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Queue } from 'bullmq';
import { BUILD_PRIORITY, BuildResult, createQueueSet, createRedis, queuePrefix, QUEUES, resultJobId, type BuildRequested, type QueueSet } from '@warmpool/bus';
import { createLogger, type Logger } from '@warmpool/runtime';
import { Reporter, startProvisioner, type ProvisionerBackend, type ProvisionerOptions } from '../src/index.js';
import { createTestQueuePrefix, REDIS_URL } from '../../../test/support/env.js';
import { waitFor, within } from '../../../test/support/wait.js';
import { buildRequest as request } from '../../../test/support/build-request.js';

// The kit against the real Redis, with small backends that block until the test releases them.
const redis = createRedis(REDIS_URL, { role: 'producer' });
after(async () => {
  await redis.quit();
});
const silent: Logger = createLogger('kit-test', { level: 'silent' });

/** A latch a backend awaits: `open()` lets every waiter through. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

async function withKit(
  backend: ProvisionerBackend,
  options: Partial<ProvisionerOptions>,
  run: (h: { queues: QueueSet; kit: ReturnType<typeof startProvisioner>; publish: (r: BuildRequested) => Promise<void>; results: (buildId: string) => Promise<Map<string, BuildResult>> }) => Promise<void>,
): Promise<void> {
  const prefix = await createTestQueuePrefix();
  const queues = createQueueSet(redis, prefix.prefix);
  const kit = startProvisioner({ redis: REDIS_URL, queuePrefix: prefix.prefix, logger: silent, backend, concurrency: 4, ...options });
  const publish = async (r: BuildRequested) => {
    const priority = r.transition === 'delete' ? BUILD_PRIORITY.delete : BUILD_PRIORITY.create;
    await queues.buildRequests.add('build-requested', r, { jobId: r.idempotencyKey, priority });
  };
  const results = async (buildId: string) => {
    const found = new Map<string, BuildResult>();
    for (const job of await queues.buildResults.getJobs(['wait', 'prioritized', 'delayed'])) {
      const result = BuildResult.parse(job.data);
      if ('buildId' in result && result.buildId === buildId) found.set(job.id!, result);
    }
    return found;
  };
  let failure: unknown;
  try {
    await run({ queues, kit, publish, results });
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    // close() lets running builds finish: one that never ends must fail the test, not hold the file until its timeout.
    await within(kit.close(), 'the kit to close (its running builds to end)').catch((err: unknown) => {
      if (failure === undefined) throw err;
    });
    await queues.close();
    await prefix.cleanup();
  }
}

test('a delete overtaking a running start of the same workspace cancels it, then runs', async () => {
  const order: string[] = [];
  const backend: ProvisionerBackend = {
    build: async ({ request: r, signal }) => {
      order.push(`${r.transition}:begin`);
      if (r.transition === 'start') {
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
      }
      order.push(`${r.transition}:end`);
      return { kind: 'succeeded' };
    },
  };
  await withKit(backend, {}, async ({ publish, results }) => {
    const start = request();
    await publish(start);
    // The backend, not just the kit (isBusy is true before build-started is even reported), must be running it.
    await waitFor(() => order.includes('start:begin'), { what: 'the start running in the backend' });
    const del = request({ workspaceId: start.workspaceId, transition: 'delete', reason: 'prebuild-delete' });
    await publish(del);
    const canceled = await waitFor(async () => (await results(start.buildId)).get(`build-canceled-${start.buildId}`), { what: 'build-canceled' });
    assert.match(canceled.type === 'build-canceled' ? canceled.reason : '', /delete of the workspace overtook/);
    await waitFor(async () => (await results(del.buildId)).has(`build-succeeded-${del.buildId}`), { what: 'delete succeeded' });
    assert.deepEqual(order, ['start:begin', 'delete:begin', 'delete:end'], 'the delete began only after the start stopped');
    assert.equal((await results(start.buildId)).has(`build-succeeded-${start.buildId}`), false, 'a canceled build never succeeds');
  });
});

test('a start canceled while it waits behind a build of its workspace ends canceled without reaching the backend', async () => {
  const release = gate();
  const began: string[] = [];
  // Like the test above, a start that only listens for 'abort': handed an already aborted signal, it would never end.
  const backend: ProvisionerBackend = {
    build: async ({ request: r, signal }) => {
      began.push(r.transition);
      if (r.transition === 'stop') await release.opened;
      if (r.transition === 'start') await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
      return { kind: 'succeeded' };
    },
  };
  await withKit(backend, {}, async ({ publish, results, kit }) => {
    const stop = request({ transition: 'stop', reason: 'user' });
    const start = request({ workspaceId: stop.workspaceId, reason: 'user' });
    const del = request({ workspaceId: stop.workspaceId, transition: 'delete', reason: 'user' });
    await publish(stop);
    await waitFor(() => began.includes('stop'), { what: 'the stop running in the backend' });
    await publish(start);
    await waitFor(() => kit.health().details.queuedBuilds === 1, { what: 'the start taken and queued behind the stop' });
    await publish(del);
    await waitFor(() => kit.health().details.queuedBuilds === 2, { what: 'the delete taken and queued behind the start' });
    release.open();
    const canceled = await waitFor(async () => (await results(start.buildId)).get(`build-canceled-${start.buildId}`), { what: 'the start reported build-canceled' });
    assert.match(canceled.type === 'build-canceled' ? canceled.reason : '', /delete of the workspace overtook/);
    await waitFor(async () => (await results(del.buildId)).has(`build-succeeded-${del.buildId}`), { what: 'the delete succeeded' });
    assert.deepEqual(began, ['stop', 'delete'], 'the canceled start never reached the backend');
  });
});

test('liveness fails while a canceled build keeps running past the limit, and recovers once it ends', async () => {
  const release = gate();
  // A start that ignores its signal: the overtaking delete waits behind it.
  const backend: ProvisionerBackend = {
    build: async ({ request: r }) => {
      if (r.transition === 'start') await release.opened;
      return { kind: 'succeeded' };
    },
  };
  await withKit(backend, { livenessLimitMs: 300 }, async ({ publish, results, kit }) => {
    const start = request({ reason: 'user' });
    const del = request({ workspaceId: start.workspaceId, transition: 'delete', reason: 'user' });
    await publish(start);
    await waitFor(async () => (await results(start.buildId)).has(`build-started-${start.buildId}`), { what: 'the start running' });
    await publish(del);
    const failing = await waitFor(
      () => {
        const h = kit.health();
        return !h.ok && (h.details.unendedCancelMs as number) >= 300 ? h : null;
      },
      { what: 'liveness to fail on the canceled start that does not end' },
    );
    assert.equal(failing.details.running, true, 'the worker still consumes: only the canceled build makes it fail');
    release.open();
    await waitFor(async () => (await results(del.buildId)).has(`build-succeeded-${del.buildId}`), { what: 'the delete succeeded once the start ended' });
    await waitFor(() => kit.health().ok, { what: 'liveness ok again' });
    assert.equal(kit.health().details.unendedCancelMs, 0);
  });
});

test('creates leave reserved slots to deletes and claims; failures and thrown errors become build-failed', async () => {
  const release = gate();
  const backend: ProvisionerBackend = {
    build: async ({ request: r }) => {
      if (r.parameters.mode === 'block') await release.opened;
      if (r.parameters.mode === 'fail') return { kind: 'failed', error: 'image missing', retryable: false };
      if (r.parameters.mode === 'throw') throw new Error('engine hiccup');
      return { kind: 'succeeded', agents: [{ name: 'main', ready: true }] };
    },
  };
  await withKit(backend, { concurrency: 3, reservedSlots: 1, deferMs: 50 }, async ({ publish, results }) => {
    const creates = Array.from({ length: 4 }, () => request({ parameters: { mode: 'block' } }));
    for (const c of creates) await publish(c);
    // Two create slots: exactly two creates start while the others wait in the queue.
    await waitFor(async () => (await Promise.all(creates.map(async (c) => (await results(c.buildId)).size))).filter((n) => n > 0).length === 2, { what: 'two creates started' });
    const del = request({ transition: 'delete', reason: 'prebuild-delete' });
    const claim = request({ reason: 'claim' });
    await publish(del);
    await publish(claim);
    await waitFor(async () => (await results(del.buildId)).has(`build-succeeded-${del.buildId}`), { what: 'delete done while creates block' });
    await waitFor(async () => (await results(claim.buildId)).has(`build-succeeded-${claim.buildId}`), { what: 'claim done while creates block' });
    const started = (await Promise.all(creates.map(async (c) => (await results(c.buildId)).size))).filter((n) => n > 0).length;
    assert.equal(started, 2, 'still only two creates running');
    release.open();
    for (const c of creates) await waitFor(async () => (await results(c.buildId)).has(`build-succeeded-${c.buildId}`), { what: 'create done' });

    const failing = request({ parameters: { mode: 'fail' } });
    const throwing = request({ parameters: { mode: 'throw' } });
    await publish(failing);
    await publish(throwing);
    const failed = await waitFor(async () => (await results(failing.buildId)).get(`build-failed-${failing.buildId}`), { what: 'failed' });
    assert.deepEqual(failed.type === 'build-failed' && [failed.error, failed.retryable], ['image missing', false]);
    const thrown = await waitFor(async () => (await results(throwing.buildId)).get(`build-failed-${throwing.buildId}`), { what: 'thrown' });
    assert.deepEqual(thrown.type === 'build-failed' && [thrown.error, thrown.retryable], ['provisioner error: engine hiccup', true]);
  });
});

test('liveness is ok while consuming and not after close; background work is awaited by close', async () => {
  let reported = false;
  const backend: ProvisionerBackend = {
    build: async ({ background, reportAgentReady }) => {
      background(async () => {
        await new Promise((r) => setTimeout(r, 100));
        await reportAgentReady('main');
        reported = true;
      });
      return { kind: 'succeeded', agents: [{ name: 'main', ready: false }] };
    },
  };
  await withKit(backend, {}, async ({ publish, kit, queues }) => {
    assert.equal(kit.health().ok, true);
    const r = request();
    await publish(r);
    await waitFor(async () => (await queues.buildRequests.getJobState(r.idempotencyKey)) === 'completed', { what: 'request done' });
    await within(kit.close(), 'the kit to close after its background readiness report');
    assert.equal(reported, true, 'close waited for the readiness report');
    assert.equal(kit.health().ok, false);
    assert.equal(QUEUES.buildRequests, kit.worker.name);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a result reported while Redis is away is published once Redis answers', async () => {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const connection = createRedis(url, { role: 'producer' });
  const refused = once(connection, 'error');
  connection.on('error', () => undefined);
  const queue = new Queue(QUEUES.buildResults, { connection, prefix: queuePrefix('kit_outage') });
  queue.on('error', () => undefined);
  const reporter = new Reporter(queue, silent, { initialDelayMs: 50, maxDelayMs: 200 });
  const buildId = randomUUID();
  const result: BuildResult = { type: 'build-started', buildId, at: new Date().toISOString() };
  const reporting = reporter.report(result);
  await within(refused, 'the refused connection to the stopped Redis'); // Redis is really away while the report waits
  assert.equal(reporter.state.pending, 1);
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    await within(reporting, 'the report published once Redis answers');
    assert.deepEqual(reporter.state, { pending: 0, lastError: null });
    const job = await queue.getJob(resultJobId(result));
    assert.deepEqual(job?.data, result);
  } finally {
    await queue.close();
    connection.disconnect();
    server.kill('SIGTERM');
    await within(once(server, 'exit'), 'the test Redis server to exit');
  }
});

test('a delete that throws is tried again before any failure is reported', async () => {
  let calls = 0;
  const backend: ProvisionerBackend = {
    build: async () => {
      calls++;
      if (calls === 1) throw new Error('engine busy');
      return { kind: 'succeeded' };
    },
  };
  await withKit(backend, {}, async ({ publish, results }) => {
    const del = request({ transition: 'delete', reason: 'prebuild-delete' });
    await publish(del);
    await waitFor(async () => (await results(del.buildId)).has(`build-succeeded-${del.buildId}`), { what: 'delete succeeded on its second attempt' });
    assert.equal(calls, 2);
    assert.equal((await results(del.buildId)).has(`build-failed-${del.buildId}`), false);
  });
});
