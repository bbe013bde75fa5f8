/**
 * `npm run chaos`: fault injection against the real system. Starts its own Redis and PostgreSQL (so restarting
 * them disturbs nobody), 3 reconciler processes, a scheduler and the simulated provisioner over 200 presets, then
 * SIGKILLs reconcilers mid-cycle, restarts Redis and PostgreSQL, and stalls the provisioner.
 * Afterwards it checks convergence to exactly the desired counts, no duplicate builds, every outbox event
 * delivered, and no stuck jobs. Prints what was injected and checked, ends with `N passed, N failed`, and exits
 * non-zero when a safety check fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createPool, migrate, type Pool } from '@warmpool/db';
import { queuePrefix } from '@warmpool/bus';
import { seedBulk } from '../bench/lib.js';
import { ChaosPostgres, ChaosRedis, freePort } from './servers.js';

const PRESETS = Number(process.env.CHAOS_PRESETS ?? 200);
const SETTLE_MS = Number(process.env.CHAOS_SETTLE_MS ?? 180_000);
const PREFIX = 'chaos';
const started = Date.now();
const say = (msg: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);

const redis = new ChaosRedis(await freePort());
const postgres = new ChaosPostgres(await freePort());
const processes = new Map<string, ChildProcess>();
let pool: Pool | undefined;

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    WARMPOOL_QUEUE_PREFIX: PREFIX,
    WARMPOOL_RECONCILE_INTERVAL_MS: '2000',
    WARMPOOL_WORKER_CONCURRENCY: '8',
    WARMPOOL_MAX_INFLIGHT_PREBUILD_BUILDS: '100',
    WARMPOOL_REPUBLISH_PENDING_AFTER_MS: '10000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    SIM_BUILD_MS: '200',
    SIM_BUILD_JITTER_MS: '200',
    SIM_AGENT_READY_MS: '100',
    SIM_CONCURRENCY: '50',
  };
}

function startService(name: string, service: string): void {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', `services/${service}/src/main.ts`], { env: env(), stdio: 'ignore' });
  processes.set(name, child);
}

function kill(name: string, signal: NodeJS.Signals): Promise<void> {
  const child = processes.get(name);
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

type Sample = { overshoot: number };
async function sample(db: Pool): Promise<Sample> {
  // Live prebuilds per preset: not deleted, system-owned, latest build a start that is pending, running or succeeded.
  const { rows } = await db.query<{ overshoot: number }>(
    `SELECT COALESCE(max(live - p.instances), 0)::int AS overshoot FROM presets p
     JOIN LATERAL (
       SELECT count(*) AS live FROM workspaces w
       CROSS JOIN LATERAL (SELECT transition, job_status FROM builds WHERE workspace_id = w.id ORDER BY build_number DESC LIMIT 1) b
       WHERE w.preset_id = p.id AND NOT w.deleted AND w.owner_id = '00000000-0000-0000-0000-000000000001'
         AND b.transition = 'start' AND b.job_status IN ('pending', 'running', 'succeeded')) c ON true`,
  );
  return rows[0]!;
}

async function notConverged(db: Pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM presets p
     JOIN LATERAL (
       SELECT count(*) FILTER (WHERE ready) AS eligible, count(*) AS live FROM (
         SELECT b.transition = 'start' AND b.job_status = 'succeeded'
                AND EXISTS (SELECT 1 FROM agents a WHERE a.build_id = b.id)
                AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.build_id = b.id AND NOT a.ready) AS ready
         FROM workspaces w
         CROSS JOIN LATERAL (SELECT id, transition, job_status FROM builds WHERE workspace_id = w.id ORDER BY build_number DESC LIMIT 1) b
         WHERE w.preset_id = p.id AND NOT w.deleted AND w.owner_id = '00000000-0000-0000-0000-000000000001'
           AND b.transition = 'start' AND b.job_status IN ('pending', 'running', 'succeeded')) x) c ON true
     WHERE c.eligible <> p.instances OR c.live <> p.instances`,
  );
  return rows[0]!.n;
}

const checks: { name: string; ok: boolean; detail: string }[] = [];
const check = (name: string, ok: boolean, detail: string) => {
  checks.push({ name, ok, detail });
  say(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
};

async function main(): Promise<void> {
  say(`starting Redis on ${redis.port} and PostgreSQL on ${postgres.port} (throwaway servers)`);
  await redis.start();
  await postgres.init();
  await postgres.start();
  pool = createPool(postgres.url, { max: 4, applicationName: 'warmpool-chaos' });
  await migrate(pool);
  const ids = await seedBulk(pool, { count: PRESETS, instances: 1, running: 0, tag: 'chaos' });
  await pool.query(`UPDATE presets SET instances = 1 + abs(hashtext(id::text)) % 3`);
  const { rows: desired } = await pool.query<{ n: number }>('SELECT sum(instances)::int AS n FROM presets');
  say(`seeded ${ids.length} presets wanting ${desired[0]!.n} prebuilds in total`);

  for (const i of [1, 2, 3]) startService(`reconciler-${i}`, 'reconciler');
  startService('scheduler', 'scheduler');
  startService('sim', 'provisioner-sim');

  let maxOvershoot = 0;
  const sampler = setInterval(() => {
    void sample(pool!).then((s) => (maxOvershoot = Math.max(maxOvershoot, s.overshoot)), () => undefined);
  }, 250);

  const injections: [number, string, () => Promise<void>][] = [
    [4_000, 'SIGKILL reconciler-1 mid-cycle, start a replacement', async () => { await kill('reconciler-1', 'SIGKILL'); startService('reconciler-1', 'reconciler'); }],
    [8_000, 'SIGKILL reconciler-2 mid-cycle, start a replacement', async () => { await kill('reconciler-2', 'SIGKILL'); startService('reconciler-2', 'reconciler'); }],
    [12_000, 'restart Redis (connections dropped; append-only file kept)', () => redis.restart()],
    [20_000, 'restart PostgreSQL (fast shutdown: transactions rolled back, connections dropped)', () => postgres.restart()],
    [28_000, 'SIGKILL reconciler-3, start a replacement', async () => { await kill('reconciler-3', 'SIGKILL'); startService('reconciler-3', 'reconciler'); }],
    [30_000, 'stall the provisioner (SIGSTOP for 8 s)', async () => { processes.get('sim')?.kill('SIGSTOP'); }],
    [38_000, 'resume the provisioner (SIGCONT)', async () => { processes.get('sim')?.kill('SIGCONT'); }],
  ];
  const t0 = Date.now();
  for (const [at, what, inject] of injections) {
    await sleep(Math.max(0, t0 + at - Date.now()));
    say(`inject: ${what}`);
    await inject();
  }

  say(`settling (up to ${SETTLE_MS / 1000} s)`);
  const settleStart = Date.now();
  let remaining = await notConverged(pool);
  while (remaining > 0 && Date.now() - settleStart < SETTLE_MS) {
    await sleep(1_000);
    remaining = await notConverged(pool).catch(() => remaining);
  }
  clearInterval(sampler);
  if (remaining > 0) {
    const { rows: off } = await pool.query(
      `SELECT p.id, p.instances, (SELECT json_agg(json_build_object('b', b.transition || ':' || b.job_status, 'r', b.reason, 'agents',
                (SELECT json_agg(a.ready) FROM agents a WHERE a.build_id = b.id)))
              FROM workspaces w CROSS JOIN LATERAL (SELECT * FROM builds WHERE workspace_id = w.id ORDER BY build_number DESC LIMIT 1) b
              WHERE w.preset_id = p.id AND NOT w.deleted) AS pool
       FROM presets p ORDER BY p.id`,
    );
    const bad = off.filter((r: { instances: number; pool: { b: string; agents: boolean[] | null }[] | null }) =>
      (r.pool ?? []).filter((x) => x.b === 'start:succeeded' && x.agents?.every(Boolean)).length !== r.instances);
    for (const r of bad.slice(0, 5)) say(`  off: ${JSON.stringify(r)}`);
  }
  check('convergence', remaining === 0, remaining === 0 ? `every preset has exactly its desired eligible prebuilds, ${((Date.now() - settleStart) / 1000).toFixed(1)} s after the last fault` : `${remaining} presets off their desired count`);
  check('never more live prebuilds than desired', maxOvershoot === 0, `max overshoot sampled every 250 ms: ${maxOvershoot}`);

  const dup = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT workspace_id FROM builds WHERE transition = 'start' AND job_status IN ('pending', 'running') GROUP BY workspace_id HAVING count(*) > 1) d`,
  );
  check('no duplicate builds', dup.rows[0]!.n === 0, `${dup.rows[0]!.n} workspaces with two in-flight start builds (build numbers are unique by schema)`);
  const outbox = await pool.query<{ builds: number; without: number; extra: number; unpublished: number }>(
    `SELECT (SELECT count(*) FROM builds)::int AS builds,
            (SELECT count(*) FROM builds b WHERE job_status <> 'failed' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = 'build-' || b.id))::int AS without,
            (SELECT count(*) FROM (SELECT payload->>'buildId' FROM outbox WHERE queue = 'build-requests' GROUP BY 1 HAVING count(*) > 1) x)::int AS extra,
            (SELECT count(*) FROM outbox WHERE published_at IS NULL)::int AS unpublished`,
  );
  const o = outbox.rows[0]!;
  check('no lost build request', o.without === 0 && o.extra === 0, `${o.builds} builds; ${o.without} without a build-requested event, ${o.extra} with more than one`);
  check('every outbox event delivered', o.unpublished === 0, `${o.unpublished} unpublished outbox rows`);

  const connection = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const reconcile = new Queue('reconcile', { connection, prefix: queuePrefix(PREFIX) });
  const builds = new Queue('build-requests', { connection, prefix: queuePrefix(PREFIX) });
  const active = await reconcile.getActive();
  const stuck = active.filter((j) => Date.now() - (j.processedOn ?? Date.now()) > 60_000);
  const waiting = await builds.getJobs(['wait', 'prioritized', 'delayed']);
  const waitingIds = waiting.map((j) => (j.data as { buildId?: string }).buildId).filter((id): id is string => !!id);
  const terminal = waitingIds.length
    ? (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM builds WHERE id = ANY($1::uuid[]) AND job_status IN ('succeeded', 'failed', 'canceled')`, [waitingIds])).rows[0]!.n
    : 0;
  check('no stuck jobs', stuck.length === 0 && terminal === 0, `${stuck.length} reconcile jobs active > 60 s; ${terminal} waiting build requests for builds already finished`);
  await reconcile.close();
  await builds.close();
  connection.disconnect();
}

async function cleanup(): Promise<void> {
  for (const name of processes.keys()) processes.get(name)?.kill('SIGCONT');
  await Promise.all([...processes.keys()].map((name) => kill(name, 'SIGKILL')));
  await pool?.end().catch(() => undefined);
  await redis.stop();
  await postgres.destroy();
}

let failed: number;
try {
  await main();
} catch (err) {
  console.error(err);
  checks.push({ name: 'harness', ok: false, detail: String(err) });
} finally {
  await cleanup();
  failed = checks.filter((c) => !c.ok).length;
  console.log(`${checks.length - failed} passed, ${failed} failed`);
}
process.exit(failed > 0 ? 1 : 0);
