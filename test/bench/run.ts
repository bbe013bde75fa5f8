/**
 * `npm run bench`: measures Warmpool against the real Redis and PostgreSQL, each run in its own database and
 * queue prefix. Prints a table and writes .bench-results/bench-<time>.json. See docs/BENCHMARKS.md.
 * Options (env): BENCH_SIZES=1000,10000  BENCH_CONCURRENCY=16  BENCH_DOCKER=0 (skip the Docker cold start)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { Worker, type Job } from 'bullmq';
import { createQueueSet, createRedis, enqueueReconcile, enqueueReconciles, QUEUES, queuePrefix, type QueueSet } from '@warmpool/bus';
import { reconcilePreset } from '@warmpool/operations';
import { OutboxRelay } from '@warmpool/operations';
import { createLogger } from '@warmpool/runtime';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { startScheduler } from '@warmpool/scheduler';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { countingPool, testConfig } from '../support/pipeline.js';
import { claimBench } from './claim.js';
import { dockerBench } from './docker.js';
import { newRedis, percentile, printTable, redisCommandCount, redisUsedMemory, seedBulk, writeResults, type Figure } from './lib.js';

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const logger = createLogger('bench', { level: 'silent' });
const figures: Figure[] = [];
const log = (msg: string) => console.error(`[bench] ${msg}`);

type Env = { db: TestDatabase; prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>; redis: ReturnType<typeof createRedis>; queues: QueueSet };

async function setup(): Promise<Env> {
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix();
  const redis = createRedis(REDIS_URL, { role: 'producer' });
  return { db, prefix, redis, queues: createQueueSet(redis, prefix.prefix) };
}
async function teardown(env: Env, reconciler?: Reconciler): Promise<void> {
  await reconciler?.close();
  await env.queues.close();
  await env.redis.quit();
  await env.prefix.cleanup();
  await env.db.drop();
}
const startService = (env: Env) =>
  startReconciler({ config: testConfig(env.db.url, env.prefix.prefix, { WARMPOOL_WORKER_CONCURRENCY: String(CONCURRENCY), WARMPOOL_MAX_INFLIGHT_PREBUILD_BUILDS: '100000' }), logger, pool: env.db.pool, relayPollMs: 1_000 });

/** Enqueues one reconcile per preset and waits until the worker completed them all. */
async function cycle(env: Env, reconciler: Reconciler, ids: string[]): Promise<number> {
  let done = 0;
  const onDone = (job: Job) => {
    if (job.name === 'reconcile') done++;
  };
  reconciler.worker.on('completed', onDone);
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += 1000) await enqueueReconciles(env.queues.reconcile, ids.slice(i, i + 1000), 'bench');
  while (done < ids.length) await sleep(2);
  const seconds = (performance.now() - t0) / 1000;
  reconciler.worker.off('completed', onDone);
  return ids.length / seconds;
}

async function baseline(n: number): Promise<number> {
  const env = await setup();
  const connection = createRedis(REDIS_URL, { role: 'worker' });
  let done = 0;
  const worker = new Worker(QUEUES.reconcile, async () => undefined, { connection, prefix: queuePrefix(env.prefix.prefix), concurrency: CONCURRENCY });
  worker.on('completed', () => void done++);
  const ids = Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) await enqueueReconciles(env.queues.reconcile, ids.slice(i, i + 1000), 'bench');
  while (done < n) await sleep(2);
  const rate = n / ((performance.now() - t0) / 1000);
  await worker.close();
  await connection.quit();
  await teardown(env);
  return rate;
}

async function throughput(n: number): Promise<void> {
  const base = await baseline(n);
  figures.push({ name: `no-op BullMQ worker, ${n} jobs`, value: Math.round(base), unit: 'jobs/s', note: `concurrency ${CONCURRENCY}` });

  const env = await setup();
  const ids = await seedBulk(env.db.pool, { count: n, instances: 2, running: 2, tag: `noop${n}` });
  // The periodic full cycle: the scheduler's tick screens every preset (one snapshot query per 500) and
  // enqueues jobs only for presets with work. Timed on the second tick, after the automatic first one.
  const scheduler = await startScheduler({ config: testConfig(env.db.url, env.prefix.prefix, { WARMPOOL_RECONCILE_INTERVAL_MS: '3600000' }), logger, pool: env.db.pool });
  await scheduler.tick();
  const tickStart = performance.now();
  const enqueued = await scheduler.tick();
  const tickRate = n / ((performance.now() - tickStart) / 1000);
  await scheduler.close();
  figures.push({ name: `full no-op cycle (tick), ${n} presets`, value: Math.round(tickRate), unit: 'presets/s', target: '≥ 5000', ok: tickRate >= 5000 && enqueued === 0 });
  figures.push({ name: `  ratio to the no-op BullMQ worker`, value: Math.round((tickRate / base) * 100), unit: '%', target: '≥ 33%', ok: tickRate / base >= 0.33 });

  // Event-driven path: one reconcile job per preset (what claims, build results and timers trigger).
  const reconciler = await startService(env);
  const counter = newRedis();
  const cmd0 = await redisCommandCount(counter);
  const noop = await cycle(env, reconciler, ids);
  const commands = ((await redisCommandCount(counter)) - cmd0) / n;
  figures.push({ name: `no-op reconcile jobs, ${n} presets`, value: Math.round(noop), unit: 'presets/s', note: `${Math.round((noop / base) * 100)}% of the no-op worker; 1 job each` });
  if (n === SIZES[0]) figures.push({ name: 'Redis commands per no-op reconcile job', value: commands, unit: 'commands', note: 'enqueue + fetch + complete; shared server' });
  if (n === Math.max(...SIZES)) {
    const mem0 = await redisUsedMemory(counter);
    for (let round = 0; round < 9; round++) await cycle(env, reconciler, ids);
    const mem1 = await redisUsedMemory(counter);
    figures.push({ name: `Redis memory growth, ${n} presets × 10 reconciles`, value: Math.round((mem1 - mem0) / 1024), unit: 'KiB', note: `used_memory now ${Math.round(mem1 / 1048576)} MiB (whole server)` });
  }
  counter.disconnect();
  await teardown(env, reconciler);

  const env2 = await setup();
  const ids2 = await seedBulk(env2.db.pool, { count: n, instances: 3, running: 2, tag: `create${n}` });
  const reconciler2 = await startService(env2);
  const creating = await cycle(env2, reconciler2, ids2);
  const { rows } = await env2.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM builds WHERE reason = 'prebuild-create' AND job_status = 'pending'`);
  figures.push({ name: `reconcile with one create each, ${n} presets`, value: Math.round(creating), unit: 'presets/s', note: `${rows[0]!.n} builds requested` });
  await teardown(env2, reconciler2);
}

async function sqlPerNoop(): Promise<void> {
  const env = await setup();
  const ids = await seedBulk(env.db.pool, { count: 100, instances: 2, running: 2, tag: 'sql' });
  const counting = countingPool(env.db.pool);
  const relay = new OutboxRelay(env.db.pool, env.queues, logger);
  const settings = { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3, maxInflightPrebuildBuilds: 50 };
  for (const id of ids) await reconcilePreset({ pool: counting.pool, queues: env.queues, relay, logger, settings }, id);
  figures.push({ name: 'SQL round trips per no-op reconcile', value: counting.count() / ids.length, unit: 'round trips', target: '≤ 3', ok: counting.count() / ids.length <= 3 });
  await teardown(env);
}

/** Time from a committed claim to the replacement's build request reaching the provisioner queue's consumer. */
async function refill(ratePerSecond: number, claims: number): Promise<void> {
  const env = await setup();
  const ids = await seedBulk(env.db.pool, { count: claims, instances: 1, running: 1, tag: `refill${ratePerSecond}` });
  const reconciler = await startService(env);
  const { rows: u } = await env.db.pool.query<{ id: string }>(`INSERT INTO users (username) VALUES ('bench-claimant') RETURNING id`);
  const claimedAt = new Map<string, number>();
  const latencies: number[] = [];
  const connection = createRedis(REDIS_URL, { role: 'worker' });
  const provisioner = new Worker(
    QUEUES.buildRequests,
    async (job: Job) => {
      const t = claimedAt.get(job.data.presetId);
      if (t !== undefined && job.data.reason === 'prebuild-create') latencies.push(performance.now() - t);
    },
    { connection, prefix: queuePrefix(env.prefix.prefix), concurrency: 50 },
  );
  const interval = 1000 / ratePerSecond;
  const t0 = performance.now();
  await Promise.all(
    ids.map(async (presetId, i) => {
      await sleep(Math.max(0, t0 + i * interval - performance.now()));
      await env.db.pool.query(`UPDATE workspaces SET owner_id = $2 WHERE preset_id = $1`, [presetId, u[0]!.id]);
      claimedAt.set(presetId, performance.now());
      await enqueueReconcile(env.queues.reconcile, presetId, 'claim');
    }),
  );
  const deadline = performance.now() + 30_000;
  while (latencies.length < claims && performance.now() < deadline) await sleep(5);
  await provisioner.close();
  await connection.quit();
  const p99 = percentile(latencies, 99);
  figures.push({ name: `refill latency at ${ratePerSecond} claims/s, p50`, value: percentile(latencies, 50), unit: 'ms', note: `${latencies.length}/${claims} replacements seen` });
  figures.push({ name: `refill latency at ${ratePerSecond} claims/s, p99`, value: p99, unit: 'ms', target: '≤ 250', ok: p99 <= 250 && latencies.length === claims });
  await teardown(env, reconciler);
}

/**
 * Timer lag: presets whose prebuild expires 3 s from now. The reconciler arms an exact wake-up (the same mechanism
 * as a schedule boundary); the lag is from the expiry instant to the delete request reaching the provisioner.
 */
async function timerLag(): Promise<void> {
  const env = await setup();
  const ids = await seedBulk(env.db.pool, { count: 20, instances: 1, running: 1, tag: 'lag' });
  const expiresAt = Date.now() + 3_000;
  await env.db.pool.query(`UPDATE presets SET ttl_seconds = 3600 WHERE id = ANY($1::uuid[])`, [ids]);
  await env.db.pool.query(`UPDATE workspaces SET created_at = $2::timestamptz - interval '3600 seconds' WHERE preset_id = ANY($1::uuid[])`, [ids, new Date(expiresAt)]);
  const reconciler = await startService(env);
  const lags: number[] = [];
  const connection = createRedis(REDIS_URL, { role: 'worker' });
  const provisioner = new Worker(
    QUEUES.buildRequests,
    async (job: Job) => {
      if (job.data.reason === 'prebuild-delete') lags.push(Date.now() - expiresAt);
    },
    { connection, prefix: queuePrefix(env.prefix.prefix), concurrency: 50 },
  );
  await enqueueReconciles(env.queues.reconcile, ids, 'bench'); // arms the wake-ups
  const deadline = Date.now() + 15_000;
  while (lags.length < ids.length && Date.now() < deadline) await sleep(10);
  await provisioner.close();
  await connection.quit();
  const worst = Math.max(...lags);
  figures.push({ name: 'boundary/expiry lag, p50', value: percentile(lags, 50), unit: 'ms', note: `${lags.length}/${ids.length} seen` });
  figures.push({ name: 'boundary/expiry lag, max', value: worst, unit: 'ms', target: '≤ 1000', ok: worst <= 1000 && lags.length === ids.length });
  await teardown(env, reconciler);
}

const started = Date.now();
log(`sizes ${SIZES.join(', ')}, worker concurrency ${CONCURRENCY}, ${os.cpus().length} cores`);
for (const n of SIZES) {
  log(`throughput with ${n} presets`);
  await throughput(n);
}
log('SQL round trips');
await sqlPerNoop();
log('refill latency');
await refill(1, 10);
await refill(100, 100);
log('timer lag');
await timerLag();
log('claim latency through the API');
await claimBench(figures);
if (process.env.BENCH_DOCKER !== '0') {
  log('cold start on the Docker provisioner');
  await dockerBench(figures);
}
printTable(figures);
const file = writeResults(figures, { sizes: SIZES, concurrency: CONCURRENCY, cores: os.cpus().length, seconds: Math.round((Date.now() - started) / 1000) });
console.log(`results written to ${file}`);
process.exit(0);
