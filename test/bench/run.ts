/**
 * `npm run bench`: measures Warmpool against the real Redis and PostgreSQL, each run in its own database and
 * queue prefix. Prints a table and writes .bench-results/bench-<time>.json. See docs/BENCHMARKS.md.
 * Options (env): BENCH_SIZES=1000,10000  BENCH_CONCURRENCY=16  BENCH_DOCKER=0 (skip the Docker sections: cold start, frozen tier)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { Worker, type Job } from 'bullmq';
import { createQueueSet, createRedis, enqueueReconcile, enqueueReconciles, QUEUES, queuePrefix, type QueueSet } from '@warmpool/bus';
import { reconcilePreset } from '@warmpool/operations';
import { OutboxRelay } from '@warmpool/operations';
import { createLogger, startTracing } from '@warmpool/runtime';
import { createServer } from 'node:http';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { startScheduler } from '@warmpool/scheduler';
import { insertPrebuildsBatch, withTransaction } from '@warmpool/db';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { countingPool, testConfig } from '../support/pipeline.js';
import { buildApi, claimBench } from './claim.js';
import { stormBench } from './storm.js';
import { boundaryBench } from './boundary.js';
import { dockerBench } from './docker.js';
import { frozenBench } from './frozen.js';
import { rolloutBench } from './rollout.js';
import { sizingBench } from './sizing.js';
import { dayBench } from './day.js';
import { newRedis, percentile, printTable, redisCommandCount, redisUsedMemory, seedBulk, writeResults, type Figure } from './lib.js';
import { runSection, streamFigures, TIME_SCALE } from './sections.js';

// `npm run bench -- day` is the day section alone (its children see it through BENCH_ONLY).
if (process.argv[2] === 'day') process.env.BENCH_ONLY = 'day';
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const logger = createLogger('bench', { level: 'silent' });
// The reconcile worker runs this many jobs at once (two batches); the no-op baseline worker gets the same.
const RECONCILE_CONCURRENCY = Math.max(CONCURRENCY, 4 * testConfig('postgres://x', 'x').reconcileBatchSize);
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

async function baseline(n: number): Promise<{ rate: number; commands: number }> {
  const env = await setup();
  const counter = newRedis();
  const cmd0 = await redisCommandCount(counter);
  const connection = createRedis(REDIS_URL, { role: 'worker' });
  let done = 0;
  const worker = new Worker(QUEUES.reconcile, async () => undefined, { connection, prefix: queuePrefix(env.prefix.prefix), concurrency: RECONCILE_CONCURRENCY });
  worker.on('completed', () => void done++);
  const ids = Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) await enqueueReconciles(env.queues.reconcile, ids.slice(i, i + 1000), 'bench');
  while (done < n) await sleep(2);
  const rate = n / ((performance.now() - t0) / 1000);
  const commands = ((await redisCommandCount(counter)) - cmd0) / n;
  counter.disconnect();
  await worker.close();
  await connection.quit();
  await teardown(env);
  return { rate, commands };
}

async function throughput(n: number): Promise<void> {
  const { rate: base, commands: baseCommands } = await baseline(n);
  figures.push({ name: `no-op BullMQ worker, ${n} jobs`, value: Math.round(base), unit: 'jobs/s', note: `concurrency ${RECONCILE_CONCURRENCY}; ${baseCommands.toFixed(1)} Redis commands per job` });

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
  figures.push({ name: `no-op reconcile jobs, ${n} presets`, value: Math.round(noop), unit: 'presets/s', note: '1 job each, batched by the reconciler' });
  figures.push({ name: `  ratio to the no-op BullMQ worker`, value: Math.round((noop / base) * 100), unit: '%', target: '≥ 50%', ok: noop / base >= 0.5 });
  if (n === SIZES[0]) figures.push({ name: 'Redis commands per no-op reconcile job', value: Math.round(commands * 10) / 10, unit: 'commands', note: `no-op BullMQ worker: ${baseCommands.toFixed(1)} (enqueue + fetch + complete); shared server` });
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
  figures.push({ name: `reconcile with one create each, ${n} presets`, value: Math.round(creating), unit: 'presets/s', target: '≥ 1000', ok: creating >= 1000 && rows[0]!.n === n, note: `${rows[0]!.n} builds requested; ${Math.round((creating / base) * 100)}% of the no-op BullMQ worker` });
  // The physical limit beside it: the same rows written by the batched INSERT alone, 64 presets per transaction.
  const { rows: targets } = await env2.db.pool.query<{ id: string; organization_id: string; template_id: string; template_version_id: string }>(
    `SELECT p.id, t.organization_id, t.id AS template_id, p.template_version_id FROM presets p JOIN template_versions v ON v.id = p.template_version_id JOIN templates t ON t.id = v.template_id`,
  );
  const t0 = performance.now();
  for (let i = 0; i < targets.length; i += 64) {
    const items = targets.slice(i, i + 64).map((r) => ({ target: { presetId: r.id, organizationId: r.organization_id, templateId: r.template_id, templateVersionId: r.template_version_id }, count: 1, parameters: {} }));
    await withTransaction(env2.db.pool, (c) => insertPrebuildsBatch(c, items));
  }
  const raw = targets.length / ((performance.now() - t0) / 1000);
  figures.push({ name: `  physical limit: the batched prebuild INSERT alone, ${n} presets`, value: Math.round(raw), unit: 'presets/s', note: '64 per transaction, no snapshot, outbox or Redis' });
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
  // A first second of the same load, not measured: a long-running reconciler has its pooled connections open and
  // its code compiled; a fresh one pays for both (and a new backend's catalog caches) on its first batches.
  const warmIds = await seedBulk(env.db.pool, { count: Math.max(10, ratePerSecond), instances: 1, running: 1, tag: `refill${ratePerSecond}-warm` });
  const reconciler = await startService(env);
  const { rows: u } = await env.db.pool.query<{ id: string }>(`INSERT INTO users (username) VALUES ('bench-claimant') RETURNING id`);
  const claimedAt = new Map<string, number>();
  const measured = new Set(ids);
  const latencies: number[] = [];
  let warmedUp = 0;
  const connection = createRedis(REDIS_URL, { role: 'worker' });
  const provisioner = new Worker(
    QUEUES.buildRequests,
    async (job: Job) => {
      const t = claimedAt.get(job.data.presetId);
      if (t === undefined || job.data.reason !== 'prebuild-create') return;
      if (measured.has(job.data.presetId)) latencies.push(performance.now() - t);
      else warmedUp++;
    },
    { connection, prefix: queuePrefix(env.prefix.prefix), concurrency: 50 },
  );
  const interval = 1000 / ratePerSecond;
  const claimAll = async (presetIds: string[]) => {
    const t0 = performance.now();
    await Promise.all(
      presetIds.map(async (presetId, i) => {
        await sleep(Math.max(0, t0 + i * interval - performance.now()));
        await env.db.pool.query(`UPDATE workspaces SET owner_id = $2 WHERE preset_id = $1`, [presetId, u[0]!.id]);
        claimedAt.set(presetId, performance.now());
        await enqueueReconcile(env.queues.reconcile, presetId, 'claim');
      }),
    );
  };
  await claimAll(warmIds);
  const warmDeadline = performance.now() + 10_000;
  while (warmedUp < warmIds.length && performance.now() < warmDeadline) await sleep(5);
  await claimAll(ids);
  const deadline = performance.now() + 30_000;
  while (latencies.length < claims && performance.now() < deadline) await sleep(5);
  await provisioner.close();
  await connection.quit();
  if (process.env.BENCH_VERBOSE) log(`refill at ${ratePerSecond}/s, in arrival order: ${latencies.map(Math.round).join(' ')}`);
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

// Each section runs in a child process of its own with a time budget (sized for a quiet 2-core machine, so that the
// whole default run stays within 15 min; TOTAL_BUDGET_S caps the sum): a section that overruns is killed, its databases and queue keys removed,
// and the figures it already produced are kept beside a row saying it timed out. BENCH_TIME_SCALE stretches every
// budget (e.g. 3 on a loaded machine).
const TOTAL_BUDGET_S = 14 * 60 + 30;
/**
 * Issue 28: reconcile jobs with tracing at 100 % sampling (spans exported over OTLP/HTTP protobuf to a local sink
 * that answers at once) beside tracing off, in the same run and process, rounds alternated so load drifts hit both.
 */
async function tracingOverhead(): Promise<void> {
  const n = 1_000;
  const sink = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end()));
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
  const env = await setup();
  const ids = await seedBulk(env.db.pool, { count: n, instances: 2, running: 2, tag: 'tracing' });
  const reconciler = await startService(env);
  await cycle(env, reconciler, ids); // warm-up
  const rates: { off: number[]; on: number[] } = { off: [], on: [] };
  for (let round = 0; round < 3; round++) {
    rates.off.push(await cycle(env, reconciler, ids));
    const tracing = await startTracing('bench', { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER: 'always_on' });
    rates.on.push(await cycle(env, reconciler, ids));
    await tracing!.shutdown();
  }
  const median = (xs: number[]) => percentile(xs, 50);
  const overhead = (1 - median(rates.on) / median(rates.off)) * 100;
  figures.push({ name: `reconcile jobs, tracing off, ${n} presets`, value: Math.round(median(rates.off)), unit: 'jobs/s', note: `rounds ${rates.off.map(Math.round).join(', ')}` });
  figures.push({ name: `reconcile jobs, tracing on (100 % sampled, OTLP export)`, value: Math.round(median(rates.on)), unit: 'jobs/s', note: `rounds ${rates.on.map(Math.round).join(', ')}` });
  figures.push({ name: `  tracing overhead on reconcile jobs`, value: Math.round(overhead * 10) / 10, unit: '%', target: '≤ 10%', ok: overhead <= 10 });
  await teardown(env, reconciler);
  sink.close();
}

const SECTIONS: { name: string; label?: string; budgetSeconds: number; run: () => Promise<void> }[] = [
  ...SIZES.map((n) => ({ name: 'throughput', label: `throughput ${n}`, budgetSeconds: n >= 10_000 ? 150 : 30, run: () => throughput(n) })),
  { name: 'sql', budgetSeconds: 15, run: sqlPerNoop },
  { name: 'refill', budgetSeconds: 40, run: async () => (await refill(1, 10), await refill(100, 100)) },
  { name: 'lag', budgetSeconds: 20, run: timerLag },
  { name: 'storm', budgetSeconds: 330, run: () => stormBench(figures) },
  { name: 'boundary', budgetSeconds: 120, run: () => boundaryBench(figures) },
  { name: 'claims', budgetSeconds: 130, run: () => claimBench(figures) },
  { name: 'tracing', budgetSeconds: 90, run: tracingOverhead },
  ...(process.env.BENCH_DOCKER === '0'
    ? []
    : [
        { name: 'docker', budgetSeconds: 90, run: () => dockerBench(figures) },
        { name: 'frozen', budgetSeconds: 150, run: () => frozenBench(figures) },
        { name: 'rollout', budgetSeconds: 300, run: () => rolloutBench(figures) },
      ]),
  // Not in the default run (its 6 minutes do not fit the total budget): `npm run bench -- day` or BENCH_ONLY=day.
  ...(process.env.BENCH_ONLY?.split(',').includes('day') ? [{ name: 'day', budgetSeconds: 360, run: async () => void (await dayBench(figures)) }] : []),
];

const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
const started = Date.now();
const sectionArg = process.argv.indexOf('--section');
if (process.argv[2] === 'sizing') {
  // `npm run bench -- sizing`: the pure sizing comparison alone (no database, no queues).
  log('sizing: four-week synthetic trace, static schedule vs expression vs forecast');
  const meta = await sizingBench(figures);
  printTable(figures);
  console.log(`results written to ${writeResults(figures, { scenario: 'sizing', ...meta, seconds: Math.round((Date.now() - started) / 1000) })}`);
  process.exit(0);
} else if (sectionArg > 0) {
  // A child: run one section (by index), streaming each figure to the parent's file as it is produced.
  const section = SECTIONS[Number(process.argv[sectionArg + 1])]!;
  streamFigures(figures, process.env.BENCH_FIGURES_FILE!);
  await section.run();
  process.exit(0);
}
log(`sizes ${SIZES.join(', ')}, worker concurrency ${CONCURRENCY}, ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const timings: Record<string, number> = {};
// The whole run, the API build included, ends within TOTAL_BUDGET_S (× BENCH_TIME_SCALE): a section gets its own
// budget or what is left, whichever is less; sections left with nothing are reported as skipped.
const deadline = started + TOTAL_BUDGET_S * TIME_SCALE * 1000;
if (!ONLY || ONLY.has('claims')) buildApi();
for (const [index, section] of SECTIONS.entries()) {
  if (ONLY && !ONLY.has(section.name)) continue;
  const label = section.label ?? section.name;
  const budgetMs = Math.min(section.budgetSeconds * TIME_SCALE * 1000, deadline - Date.now());
  if (budgetMs < 5_000) {
    figures.push({ name: `section ${label}: skipped, the run's ${TOTAL_BUDGET_S} s were used up`, value: 0, unit: 's', target: 'completes', ok: false });
    continue;
  }
  log(`${label} (budget ${Math.round(budgetMs / 1000)} s)`);
  const result = await runSection(index, budgetMs);
  figures.push(...result.figures);
  timings[label] = Math.round(result.seconds);
  if (result.failure) figures.push({ name: `section ${label}: ${result.failure}`, value: Math.round(result.seconds), unit: 's', target: 'completes', ok: false });
  log(`${label}: ${Math.round(result.seconds)} s${result.failure ? ` (${result.failure})` : ''}`);
}
printTable(figures);
const file = writeResults(figures, { sizes: SIZES, concurrency: CONCURRENCY, cores: os.cpus().length, seconds: Math.round((Date.now() - started) / 1000), sections: timings, load: os.loadavg() });
console.log(`results written to ${file}`);
process.exit(figures.some((f) => f.name.startsWith('section ')) ? 1 : 0);
