import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Job, Worker } from 'bullmq';
import { wireService, type QueueSet, type ServiceWiring } from '@warmpool/bus';
import { createBuildResultsWorker, OutboxRelay } from '@warmpool/operations';
import { createLogger } from '@warmpool/runtime';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { seedPendingBuild } from '../support/seed.js';
import { waitFor } from '../support/wait.js';

// The results consumer as the reconciler runs it: a BullMQ worker on the build-results queue, real Redis and PostgreSQL.
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let wiring: ServiceWiring;
let queues: QueueSet;
let worker: Worker;
let relay: OutboxRelay;
const logs: { level: number; msg: string; problem?: string; reason?: string }[] = [];
const logger = createLogger('test', { level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  wiring = wireService({ name: 'test', redis: REDIS_URL, queuePrefix: prefix.prefix, logger });
  queues = wiring.queues;
  relay = new OutboxRelay(db.pool, queues, logger);
  worker = createBuildResultsWorker({ pool: db.pool, queues, relay, logger, worker: wiring.worker, concurrency: 4 });
});
after(async () => {
  await wiring.close();
  await prefix.cleanup();
  await db.drop();
});

const pendingBuild = (options: Parameters<typeof seedPendingBuild>[1] = {}) => seedPendingBuild(db.pool, options);

/** Adds a result job and waits until the worker settles it; returns the finished job. */
async function deliver(data: unknown, jobId = randomUUID()): Promise<Job> {
  await queues.buildResults.add('result', data, { jobId });
  return settled(jobId, ['completed', 'failed']);
}

/** The job once it reached one of `states`, read after the state (a job read earlier may predate it). */
async function settled(jobId: string, states: string[]): Promise<Job> {
  await waitFor(async () => states.includes(await queues.buildResults.getJobState(jobId)), { what: `result job ${jobId} ${states.join('/')}` });
  return (await queues.buildResults.getJob(jobId))!;
}

const buildRow = async (id: string) =>
  (await db.pool.query('SELECT job_status, started_at, completed_at, error, retryable FROM builds WHERE id = $1', [id])).rows[0];

test('results delivered through the queue apply in order, keep accurate times, and trigger the preset reconcile', async () => {
  const { buildId, presetId } = await pendingBuild();
  const startedAt = new Date(Date.now() - 5_000).toISOString();
  const completedAt = new Date(Date.now() - 1_000).toISOString();
  const started = await deliver({ type: 'build-started', buildId, at: startedAt });
  assert.deepEqual(started.returnvalue, { kind: 'applied' });
  assert.equal((await buildRow(buildId)).job_status, 'running');
  const succeeded = await deliver({ type: 'build-succeeded', buildId, at: completedAt, agents: [{ name: 'main', ready: false }] });
  assert.deepEqual(succeeded.returnvalue, { kind: 'applied' });
  const row = await buildRow(buildId);
  assert.equal(row.job_status, 'succeeded');
  assert.equal(row.started_at.toISOString(), startedAt);
  assert.equal(row.completed_at.toISOString(), completedAt);
  const ready = await deliver({ type: 'agent-ready', buildId, agent: 'main', at: new Date().toISOString() });
  assert.deepEqual(ready.returnvalue, { kind: 'applied' });
  const { rows: agents } = await db.pool.query('SELECT name, ready, ready_at IS NOT NULL AS has_ready_at FROM agents WHERE build_id = $1', [buildId]);
  assert.deepEqual(agents, [{ name: 'main', ready: true, has_ready_at: true }]);
  // The preset is reconciled at once: a (deduplicated) reconcile job for it is waiting.
  const waiting = await queues.reconcile.getJobs(['wait', 'prioritized', 'active']);
  const forPreset = waiting.filter((j) => j.data.presetId === presetId);
  assert.equal(forPreset.length, 1);
  assert.ok(['build-finished', 'agent-ready'].includes(forPreset[0]!.data.trigger));
});

test('a result delivered twice (at-least-once) is applied once; a second terminal result is rejected without retry', async () => {
  const { buildId, presetId } = await pendingBuild();
  const failed = { type: 'build-failed', buildId, at: new Date().toISOString(), error: 'provider quota exceeded', retryable: false };
  const first = await deliver(failed);
  const again = await deliver(failed);
  const contradicting = await deliver({ type: 'build-succeeded', buildId, at: new Date().toISOString(), agents: [] });
  assert.deepEqual(first.returnvalue, { kind: 'applied' });
  for (const job of [again, contradicting]) {
    assert.equal(job.returnvalue.kind, 'rejected');
    assert.equal(job.attemptsMade, 1, 'rejections are not retried');
    assert.equal(await job.getState(), 'completed');
  }
  const row = await buildRow(buildId);
  assert.equal(row.job_status, 'failed');
  assert.equal(row.error, 'provider quota exceeded');
  assert.equal(row.retryable, false);
  const { rows } = await db.pool.query(`SELECT value FROM preset_counters WHERE preset_id = $1 AND name = 'failed'`, [presetId]);
  assert.deepEqual(rows, [{ value: 1 }]);
  assert.ok(logs.some((l) => l.msg === 'build result rejected' && /second terminal result/.test(l.reason ?? '')));
});

test('malformed payloads fail once with their zod issues logged, and the worker keeps consuming', async () => {
  const { buildId } = await pendingBuild({ transition: 'delete', reason: 'prebuild-delete' });
  const before = logs.length;
  const malformed: [string, unknown][] = [
    ['not an object', 42],
    ['missing fields', { type: 'build-failed', buildId }],
    ['wrong types', { type: 'build-failed', buildId, at: new Date().toISOString(), error: 'x', retryable: 'yes' }],
    ['extra fields', { type: 'build-started', buildId, at: new Date().toISOString(), host: 'sim-1' }],
    ['unknown type', { type: 'build-exploded', buildId, at: new Date().toISOString() }],
    ['unknown build', { type: 'build-started', buildId: randomUUID(), at: new Date().toISOString() }],
  ];
  const jobs = [];
  for (const [, data] of malformed) jobs.push(await deliver(data));
  for (const [i, job] of jobs.slice(0, -1).entries()) {
    assert.equal(await job.getState(), 'failed', malformed[i]![0]);
    assert.equal(job.attemptsMade, 1, `${malformed[i]![0]}: not retried`);
    assert.match(job.failedReason, /malformed build result/);
  }
  // A well-formed result for a build nobody knows is rejected as well, but is not a failure of the job.
  assert.equal(jobs.at(-1)!.returnvalue.kind, 'rejected');
  const problems = logs.slice(before).filter((l) => l.msg === 'malformed build result rejected').map((l) => l.problem ?? '');
  assert.equal(problems.length, malformed.length - 1);
  assert.ok(problems.some((p) => /retryable/.test(p)), 'the wrong-typed field is named');
  assert.ok(problems.some((p) => /host/.test(p)), 'the extra field is named');
  // Still consuming: a valid result after the bad ones is applied.
  const ok = await deliver({ type: 'build-succeeded', buildId, at: new Date().toISOString(), agents: [] });
  assert.deepEqual(ok.returnvalue, { kind: 'applied' });
  assert.equal(worker.isRunning(), true);
});

test('an agent-ready that overtakes its build-succeeded is retried by the queue until it applies', async () => {
  const { buildId } = await pendingBuild();
  const jobId = randomUUID();
  await queues.buildResults.add('result', { type: 'agent-ready', buildId, agent: 'main', at: new Date().toISOString() }, { jobId });
  await waitFor(async () => ((await queues.buildResults.getJob(jobId))?.attemptsMade ?? 0) >= 1, { what: 'first attempt' });
  await deliver({ type: 'build-succeeded', buildId, at: new Date().toISOString(), agents: [{ name: 'main', ready: false }] });
  const ready = await settled(jobId, ['completed']);
  assert.deepEqual(ready.returnvalue, { kind: 'applied' });
  assert.ok(ready.attemptsMade >= 2);
  const { rows } = await db.pool.query('SELECT ready FROM agents WHERE build_id = $1', [buildId]);
  assert.deepEqual(rows, [{ ready: true }]);
});

test('a result that runs out of retries is logged, not dropped silently', async () => {
  const { buildId } = await pendingBuild();
  const jobId = randomUUID();
  // One attempt only, so the early agent-ready (its build never succeeds) gives up at once.
  await queues.buildResults.add('result', { type: 'agent-ready', buildId, agent: 'main', at: new Date().toISOString() }, { jobId, attempts: 1 });
  const job = await settled(jobId, ['failed']);
  assert.match(job.failedReason, /arrived early/);
  await waitFor(() => logs.some((l) => l.msg === 'build result given up after retries' && (l as { jobId?: string }).jobId === jobId), { what: 'give-up logged' });
});
