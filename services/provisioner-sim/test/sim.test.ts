import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { BUILD_PRIORITY, BuildResult, createQueueSet, createRedis, QUEUES, type BuildRequested, type QueueSet } from '@warmpool/bus';
import { createLogger, loadConfig } from '@warmpool/runtime';
import { SIMULATED_REPLACEMENTS, startProvisionerSim, type ProvisionerSim, type SimOptions } from '../src/index.js';
import { createTestQueuePrefix, REDIS_URL } from '../../../test/support/env.js';
import { waitFor } from '../../../test/support/wait.js';
import { buildRequest } from '../../../test/support/build-request.js';

// The simulator against the real Redis: build requests in, results out. Each test has its own queue prefix.
const redis = createRedis(REDIS_URL, { role: 'producer' });
after(async () => {
  await redis.quit();
});

const FAST: SimOptions = { buildMs: 20, jitterMs: 10, failureRate: 0, agentReadyMs: 20, replacementRate: 0, concurrency: 10, seed: 3 };

type Harness = { queues: QueueSet; sim: ProvisionerSim; logs: { msg: string; problem?: string }[] };

async function withSim(options: Partial<SimOptions>, run: (h: Harness) => Promise<void>): Promise<void> {
  const prefix = await createTestQueuePrefix();
  const queues = createQueueSet(redis, prefix.prefix);
  const logs: Harness['logs'] = [];
  const logger = createLogger('sim-test', { level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
  const config = loadConfig({ REDIS_URL, WARMPOOL_QUEUE_PREFIX: prefix.prefix, LOG_LEVEL: 'silent' });
  const sim = startProvisionerSim({ config, sim: { ...FAST, ...options }, logger });
  try {
    await run({ queues, sim, logs });
  } finally {
    await sim.close();
    await queues.close();
    await prefix.cleanup();
  }
}

async function publish(queues: QueueSet, request: BuildRequested, jobId = request.idempotencyKey): Promise<void> {
  await queues.buildRequests.add('build-requested', request, { jobId, priority: BUILD_PRIORITY.create });
}

/** Every result reported for a build, validated as the consumer would, keyed by job id. */
async function resultsFor(queues: QueueSet, buildId: string): Promise<Map<string, BuildResult>> {
  const jobs = (await queues.buildResults.getJobs(['wait', 'delayed', 'prioritized'])) as Job[];
  const found = new Map<string, BuildResult>();
  for (const job of jobs) {
    const result = BuildResult.parse(job.data);
    if ('buildId' in result && result.buildId === buildId) found.set(job.id!, result);
  }
  return found;
}

test('a start build yields build-started, then build-succeeded with one agent, then agent-ready', async () => {
  await withSim({}, async ({ queues }) => {
    const request = buildRequest();
    await publish(queues, request);
    const results = await waitFor(async () => {
      const r = await resultsFor(queues, request.buildId);
      return r.size === 3 ? r : undefined;
    }, { what: 'three results' });
    const started = results.get(`build-started-${request.buildId}`);
    const succeeded = results.get(`build-succeeded-${request.buildId}`);
    const ready = results.get(`agent-ready-${request.buildId}-main`);
    assert.equal(started?.type, 'build-started');
    assert.deepEqual(succeeded?.type === 'build-succeeded' && succeeded.agents, [{ name: 'main', ready: false }]);
    assert.equal(succeeded?.type === 'build-succeeded' && succeeded.replacements, undefined);
    assert.equal(ready?.type === 'agent-ready' && ready.agent, 'main');
    // Timestamps follow the simulated build: started, then succeeded after the build time, then ready.
    const ms = (r: BuildResult | undefined) => Date.parse(r!.at);
    // Node timers may fire up to 1 ms before Date says the delay passed, and the times are whole milliseconds.
    const tick = 1;
    assert.ok(ms(succeeded) - ms(started) >= FAST.buildMs! - tick, `build took ${ms(succeeded) - ms(started)} ms (${started?.at} → ${succeeded?.at})`);
    // The readiness wait starts when the build returns, a moment before the kit stamps build-succeeded (a loaded
    // event loop widens that moment), so readiness is measured from the start: build time plus readiness time.
    assert.ok(ms(ready) >= ms(succeeded), `ready (${ready?.at}) before succeeded (${succeeded?.at})`);
    const readyAfter = ms(ready) - ms(started);
    assert.ok(readyAfter >= FAST.buildMs! + FAST.agentReadyMs! - tick, `ready ${readyAfter} ms after start (${started?.at} → ${ready?.at})`);
  });
});

test('a delete build succeeds without agents and reports no readiness', async () => {
  await withSim({ failureRate: 1 }, async ({ queues, sim }) => {
    const request = buildRequest({ transition: 'delete', reason: 'prebuild-delete' });
    await publish(queues, request);
    await waitFor(async () => (await queues.buildRequests.getJobState(request.idempotencyKey)) === 'completed', { what: 'request done' });
    await sim.close(); // no readiness timer can still be pending
    const results = await resultsFor(queues, request.buildId);
    assert.deepEqual([...results.keys()].sort(), [`build-started-${request.buildId}`, `build-succeeded-${request.buildId}`]);
    const succeeded = results.get(`build-succeeded-${request.buildId}`);
    assert.deepEqual(succeeded?.type === 'build-succeeded' && succeeded.agents, []);
  });
});

test('failure rate 1 yields build-failed (retryable), and a preset can set its own rate', async () => {
  await withSim({ failureRate: 1 }, async ({ queues, sim }) => {
    const failing = buildRequest();
    const exempt = buildRequest({ parameters: { sim_failure_rate: '0' } });
    await publish(queues, failing);
    await publish(queues, exempt);
    const failed = await waitFor(async () => (await resultsFor(queues, failing.buildId)).get(`build-failed-${failing.buildId}`), { what: 'build-failed' });
    assert.equal(failed.type === 'build-failed' && failed.retryable, true);
    assert.match(failed.type === 'build-failed' ? failed.error : '', /simulated failure/);
    await waitFor(async () => (await resultsFor(queues, exempt.buildId)).has(`agent-ready-${exempt.buildId}-main`), { what: 'exempt preset ready' });
    await sim.close();
    const failingResults = await resultsFor(queues, failing.buildId);
    assert.deepEqual([...failingResults.keys()].sort(), [`build-failed-${failing.buildId}`, `build-started-${failing.buildId}`], 'no success, no readiness');
  });
  await withSim({}, async ({ queues }) => {
    const request = buildRequest({ parameters: { sim_failure_rate: '1' } });
    await publish(queues, request);
    await waitFor(async () => (await resultsFor(queues, request.buildId)).has(`build-failed-${request.buildId}`), { what: 'per-preset failure' });
  });
});

test('claim builds report resource replacements at the replacement rate or when the preset asks for them', async () => {
  await withSim({ replacementRate: 1 }, async ({ queues }) => {
    const claim = buildRequest({ reason: 'claim' });
    const prebuild = buildRequest();
    await publish(queues, claim, `claim-${claim.buildId}`);
    await publish(queues, prebuild);
    for (const [request, expected] of [[claim, SIMULATED_REPLACEMENTS], [prebuild, undefined]] as const) {
      const succeeded = await waitFor(async () => (await resultsFor(queues, request.buildId)).get(`build-succeeded-${request.buildId}`), {
        what: `${request.reason} succeeded`,
      });
      assert.deepEqual(succeeded.type === 'build-succeeded' && succeeded.replacements, expected, request.reason);
    }
  });
  await withSim({}, async ({ queues }) => {
    const claim = buildRequest({ reason: 'claim', parameters: { sim_replace: 'true' } });
    await publish(queues, claim);
    const succeeded = await waitFor(async () => (await resultsFor(queues, claim.buildId)).get(`build-succeeded-${claim.buildId}`), { what: 'claim succeeded' });
    assert.deepEqual(succeeded.type === 'build-succeeded' && succeeded.replacements, SIMULATED_REPLACEMENTS);
  });
});

test('malformed build requests are rejected once, logged, and the simulator keeps working', async () => {
  await withSim({}, async ({ queues, logs }) => {
    const valid = buildRequest();
    const malformed: [string, unknown][] = [
      ['not-an-object', 'text'],
      ['missing-fields', { buildId: randomUUID() }],
      ['wrong-types', { ...buildRequest(), parameters: { size: 3 } }],
      ['extra-field', { ...buildRequest(), surprise: true }],
    ];
    for (const [jobId, data] of malformed) await queues.buildRequests.add('build-requested', data, { jobId });
    await publish(queues, valid);
    await waitFor(async () => (await resultsFor(queues, valid.buildId)).has(`agent-ready-${valid.buildId}-main`), { what: 'valid request served' });
    for (const [jobId] of malformed) {
      await waitFor(async () => (await queues.buildRequests.getJobState(jobId)) === 'failed', { what: `${jobId} failed` });
      const job = (await queues.buildRequests.getJob(jobId))!; // read after the state: it carries the final attempt count
      assert.equal(job.attemptsMade, 1, `${jobId} is not retried`);
      assert.match(job.failedReason, /malformed build request/);
    }
    const rejected = logs.filter((l) => l.msg === 'malformed build request rejected');
    assert.equal(rejected.length, malformed.length);
    assert.ok(rejected.some((l) => /parameters\.size/.test(l.problem ?? '')), 'the log names the offending field');
  });
});

test('a redelivered request repeats its first outcome instead of contradicting it', async () => {
  // At a 50 % failure rate, sixteen builds requested twice each would almost surely disagree somewhere if each
  // delivery decided afresh.
  await withSim({ failureRate: 0.5, seed: 11 }, async ({ queues, sim }) => {
    const requests = Array.from({ length: 16 }, () => buildRequest());
    for (const r of requests) await publish(queues, r);
    for (const r of requests) await publish(queues, r, `redelivery-${r.buildId}`);
    await waitFor(async () => (await queues.buildRequests.getJobCounts('completed')).completed === 32, { what: 'all deliveries done' });
    await sim.close();
    let failures = 0;
    for (const r of requests) {
      const types = [...(await resultsFor(queues, r.buildId)).values()].map((x) => x.type).filter((t) => t === 'build-succeeded' || t === 'build-failed');
      assert.equal(types.length, 1, `exactly one terminal result for ${r.buildId}`);
      if (types[0] === 'build-failed') failures++;
    }
    assert.ok(failures > 0 && failures < requests.length, `both outcomes occur (${failures} failures)`);
  });
});

test('close lets an active build finish and report its result', async () => {
  await withSim({ buildMs: 300, jitterMs: 0 }, async ({ queues, sim }) => {
    const request = buildRequest();
    await publish(queues, request);
    await waitFor(async () => (await resultsFor(queues, request.buildId)).has(`build-started-${request.buildId}`), { what: 'build started' });
    await sim.close();
    const results = await resultsFor(queues, request.buildId);
    assert.ok(results.has(`build-succeeded-${request.buildId}`), 'the active build completed before close returned');
    assert.equal(await queues.buildRequests.getJobState(request.idempotencyKey), 'completed');
    assert.equal(QUEUES.buildRequests, sim.worker.name);
    assert.equal(sim.worker.isRunning(), false);
  });
});
