/**
 * `npm run bench -- day`: a seeded working day (05:00–21:00, compressed into BENCH_DAY_SECONDS, default 180 s) on
 * real containers, played against two configurations side by side on the same trace (test/bench/day/coder.json and
 * warmpool.json). Each configuration has its own database, queue prefix, container label and services as processes
 * (api, scheduler, reconciler, notifier, Docker provisioner); its developers are HTTP clients in a process of their own
 * (day/claimants.ts). Writes figures, a JSON of the run and an SVG picture to .bench-results/. See docs/BENCHMARKS.md.
 * Options (env): BENCH_DAY_SECONDS=180  BENCH_DAY_READY_AFTER_S=4  BENCH_DAY_SEED=30
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createQueueSet, createRedis, enqueueReconcile, type QueueSet } from '@warmpool/bus';
import { SYSTEM_USER_ID } from '@warmpool/db';
import { LABEL } from '@warmpool/provisioner-docker';
import { freePort } from '../chaos/servers.js';
import { userWithRole } from '../support/api.js';
import { cleanupInstance, docker, testInstance } from '../support/docker.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { spawnService } from '../support/processes.js';
import { seedOrganization } from '../support/seed.js';
import { waitFor } from '../support/wait.js';
import { ensureWorkspaceImage, workspaceImageBlock } from '../support/workspace-image.js';
import type { ClaimantPlan } from './day/claimants.js';
import { dayFigures, ratioFigures, summarize, causeOf, type EngineSample, type RequestRecord, type RolloutWindow } from './day/figures.js';
import { CONFIG_NAMES, desiredAt, desiredChanges, loadDayConfig, type DayConfig, type DesiredChange } from './day/plan.js';
import { renderDaySvg, type Panel } from './day/svg.js';
import { dayTrace, PROFILES, ROLLOUT, DAY_START, WINDOW, type PresetName } from './day/trace.js';
import { printTable, type Figure } from './lib.js';

const DAY_SECONDS = Number(process.env.BENCH_DAY_SECONDS ?? 180);
// The bench's image is ready 4 s after start (the image's default is 8 s) so that a day fits the section's budget.
const READY_AFTER_S = Number(process.env.BENCH_DAY_READY_AFTER_S ?? 4);
const SEED = Number(process.env.BENCH_DAY_SEED ?? 30);
/** Virtual ms per real ms. */
const SCALE = (WINDOW.to - WINDOW.from) / (DAY_SECONDS * 1000);
// Build-to-eligible time both configurations size for: the ready delay plus ~2 s of create, start and results.
const LEAD_TIME_REAL_S = READY_AFTER_S + 2;
const PRESETS = Object.keys(PROFILES) as PresetName[];
const SAMPLE_MS = 1000;
const GIVE_UP_MS = 45_000;
const log = (msg: string) => console.error(`[day] ${msg}`);

type Run = {
  config: DayConfig;
  db: TestDatabase;
  prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
  queues: QueueSet;
  instance: string;
  api: string;
  token: string;
  services: ChildProcess[];
  templates: Record<PresetName, string>;
  changes: Record<PresetName, DesiredChange[]>;
  samples: EngineSample[];
  pools: { at: number; preset: PresetName; desired: number; eligible: number }[];
  rollouts: RolloutWindow[];
  records: RequestRecord[];
};

const redis = createRedis(REDIS_URL, { role: 'producer' });

/** The workspace block of a preset's version: the broken preset runs the image variant that cannot start. */
async function workspaceOf(preset: PresetName, version: number) {
  const image = await ensureWorkspaceImage(preset === 'broken' ? 'broken' : 'good');
  const block = workspaceImageBlock(image, { readyAfterSeconds: READY_AFTER_S });
  return { ...block, env: { ...block.env, VERSION: String(version) } };
}

async function api<T>(run: Run, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${run.api}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${run.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * Imports a version of the preset's template through the API, as an operator would: active at once, or staged (the
 * first version is always active at once: there is nothing to serve meanwhile). With a standby setting, the tiers
 * are written beside the pool's size, as the day clock writes sizes (a manifest's hot tier may not exceed its pool).
 */
async function importVersion(run: Run, preset: PresetName, version: number, instances: number): Promise<void> {
  const manifest = { name: `v${version}`, presets: [{ name: preset, prebuilds: { instances } }], workspace: await workspaceOf(preset, version) };
  const activate = version > 1 && run.config.rollout === 'staged' ? 'staged' : 'true';
  const { version_id: versionId } = await api<{ version_id: string }>(run, 'POST', `/templates/${run.templates[preset]}/versions?activate=${activate}`, manifest);
  const { standby } = run.config;
  if (standby === 'running') return;
  const { rows } = await run.db.pool.query<{ id: string }>('UPDATE presets SET standby = $2 WHERE template_version_id = $1 RETURNING id', [versionId, standby]);
  for (const row of rows) await enqueueReconcile(run.queues.reconcile, row.id, 'day-clock');
}

/** The preset's pools a size change applies to: the active version's and, during a staged rollout, the staged one's. */
async function livePresetIds(run: Run, preset: PresetName): Promise<string[]> {
  const { rows } = await run.db.pool.query<{ id: string }>(
    `SELECT p.id FROM presets p JOIN template_versions v ON v.id = p.template_version_id JOIN templates t ON t.id = v.template_id
     WHERE t.id = $1 AND (v.id = t.active_version_id OR v.id IN (SELECT version_id FROM template_rollouts WHERE state = 'staged'))`,
    [run.templates[preset]],
  );
  return rows.map((r) => r.id);
}

/** Creates a run's database, prefix and services; `runs` holds it from its first resource on, for the clean-up. */
async function start(config: DayConfig, logDir: string, runs: Run[]): Promise<void> {
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix().catch(async (err: unknown) => {
    await db.drop();
    throw err;
  });
  const port = await freePort();
  const run: Run = {
    config,
    db,
    prefix,
    queues: createQueueSet(redis, prefix.prefix),
    instance: testInstance(),
    api: `http://127.0.0.1:${port}`,
    token: '',
    services: [],
    templates: {} as Run['templates'],
    changes: desiredChanges(config, dayTrace(SEED), (LEAD_TIME_REAL_S * 1000 * SCALE) / 1000),
    samples: [],
    pools: [],
    rollouts: [],
    records: [],
  };
  runs.push(run);
  await seedOrganization(db.pool, 'day');
  run.token = (await userWithRole(db.pool, 'owner', null)).token;
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    WARMPOOL_QUEUE_PREFIX: prefix.prefix,
    WARMPOOL_HTTP_PORT: String(port),
    WARMPOOL_BULL_BOARD: 'false',
    LOG_LEVEL: 'warn',
    DOCKER_PROVISIONER_INSTANCE: run.instance,
    DOCKER_PROVISIONER_STOP_TIMEOUT_S: '0',
  };
  for (const service of ['api', 'scheduler', 'reconciler', 'notifier', 'provisioner-docker']) {
    const out = openSync(path.join(logDir, `${config.name}-${service}.log`), 'w');
    run.services.push(spawnService(service, env, ['ignore', out, out]));
  }
  await waitFor(async () => (await fetch(`${run.api}/healthz`).catch(() => undefined))?.ok, { timeoutMs: 60_000, intervalMs: 200, what: `${config.name} api` });
  for (const preset of PRESETS) {
    run.templates[preset] = (await api<{ id: string }>(run, 'POST', '/organizations/day/templates', { name: preset })).id;
    await importVersion(run, preset, 1, desiredAt(run.changes[preset], WINDOW.from));
  }
}

/** Per preset of the active versions: desired and eligible now. */
async function poolCounts(run: Run): Promise<Map<PresetName, { version: string; desired: number; eligible: number }>> {
  const { rows } = await run.db.pool.query<{ template: PresetName; version: string; desired: number; eligible: number }>(
    `SELECT t.name AS template, v.name AS version, p.instances AS desired,
            (SELECT count(*) FROM running_prebuilds r WHERE r.preset_id = p.id AND r.eligible)::int AS eligible
     FROM templates t JOIN template_versions v ON v.id = t.active_version_id JOIN presets p ON p.template_version_id = v.id`,
  );
  return new Map(rows.map((r) => [r.template, { version: r.version, desired: r.desired, eligible: r.eligible }]));
}

/** A container's CPU time so far (ns) from its cgroup: v1 cpuacct, or v2 cpu.stat; null when neither is readable. */
async function cpuNs(id: string): Promise<number | null> {
  for (const [file, parse] of [
    [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, (s: string) => Number(s.trim())],
    [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, (s: string) => Number(/usage_usec (\d+)/.exec(s)?.[1]) * 1000],
    [`/sys/fs/cgroup/docker/${id}/cpu.stat`, (s: string) => Number(/usage_usec (\d+)/.exec(s)?.[1]) * 1000],
  ] as const) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined && Number.isFinite(parse(text))) return parse(text);
  }
  return null;
}

/** One sample of a run: its pools (desired, eligible), its containers (standby or not, CPU), the rollout's end. */
async function sample(run: Run): Promise<void> {
  const at = Date.now();
  const pools = await poolCounts(run);
  for (const [preset, p] of pools) run.pools.push({ at, preset, desired: p.desired, eligible: p.eligible });
  const open = run.rollouts.find((w) => w.to === null);
  // A rollout's window ends when v2 is the active version and its pool is full (staged: at promotion, already warm).
  const settled = open && pools.get(open.preset);
  if (open && settled && settled.version === 'v2' && settled.eligible >= settled.desired) open.to = at;
  const { rows } = await run.db.pool.query<{ id: string }>('SELECT id FROM workspaces WHERE owner_id = $1 AND NOT deleted', [SYSTEM_USER_ID]);
  const standby = new Set(rows.map((r) => r.id));
  const containers = await docker.listContainers({ filters: { label: [`${LABEL.instance}=${run.instance}`] } });
  run.samples.push({
    at,
    containers: await Promise.all(
      containers.map(async (c) => ({ id: c.Id, standby: standby.has(c.Labels[LABEL.workspace]!), frozen: c.State === 'paused', cpuNs: await cpuNs(c.Id) })),
    ),
  });
}

/** The day's clock for one run: applies each desired change when its virtual instant comes, and the rollout. */
async function clock(run: Run, realOf: (virtual: number) => number): Promise<void> {
  const events: { at: number; act: () => Promise<void> }[] = [];
  for (const preset of PRESETS) {
    for (const change of run.changes[preset].slice(1)) {
      events.push({
        at: change.at,
        // What a schedule boundary (or the autoscaler) does: a new desired count, then a reconcile of the preset.
        act: async () => {
          for (const presetId of await livePresetIds(run, preset)) {
            await run.db.pool.query('UPDATE presets SET instances = $2 WHERE id = $1', [presetId, change.desired]);
            await enqueueReconcile(run.queues.reconcile, presetId, 'day-clock');
          }
        },
      });
    }
  }
  const rolloutAt = DAY_START + ROLLOUT.hour * 3_600_000;
  events.push({
    at: rolloutAt,
    act: async () => {
      run.rollouts.push({ preset: ROLLOUT.preset, from: Date.now(), to: null });
      await importVersion(run, ROLLOUT.preset, 2, desiredAt(run.changes[ROLLOUT.preset], rolloutAt));
    },
  });
  events.sort((a, b) => a.at - b.at);
  for (const e of events) {
    await sleep(Math.max(0, realOf(e.at) - Date.now()));
    await e.act().catch((err: Error) => log(`${run.config.name}: clock event failed: ${err.message}`));
  }
}

/** Starts the run's claimants (a process) on the plan; resolves with their records when it exits. */
function claimants(run: Run, realOf: (virtual: number) => number, dir: string): Promise<RequestRecord[]> {
  const plan: ClaimantPlan = {
    api: run.api,
    token: run.token,
    giveUpMs: GIVE_UP_MS,
    pollMs: 100,
    sessionMs: 5_000,
    requests: dayTrace(SEED).requests.map((r, i) => ({ sendAt: realOf(r.at), preset: r.preset, burst: r.burst, templateId: run.templates[r.preset], name: `dev-${i}` })),
  };
  const planFile = path.join(dir, `${run.config.name}-plan.json`);
  const resultsFile = path.join(dir, `${run.config.name}-results.jsonl`);
  writeFileSync(planFile, JSON.stringify(plan));
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'test/bench/day/claimants.ts', planFile, resultsFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  return new Promise((resolve) =>
    child.once('exit', () =>
      resolve(
        existsSync(resultsFile)
          ? readFileSync(resultsFile, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as RequestRecord)
          : [],
      ),
    ),
  );
}

/** Builds started (every start but claims) and prebuilds deleted without ever being claimed. */
async function counts(run: Run): Promise<{ buildsStarted: number; wasted: number }> {
  const { rows } = await run.db.pool.query<{ started: number; wasted: number }>(
    `SELECT (SELECT count(*) FROM builds WHERE transition = 'start' AND reason <> 'claim')::int AS started,
            (SELECT count(*) FROM workspaces w WHERE w.owner_id = $1
               AND EXISTS (SELECT 1 FROM builds b WHERE b.workspace_id = w.id AND b.transition = 'start' AND b.job_status = 'succeeded')
               AND EXISTS (SELECT 1 FROM builds b WHERE b.workspace_id = w.id AND b.transition = 'delete'))::int AS wasted`,
    [SYSTEM_USER_ID],
  );
  return { buildsStarted: rows[0]!.started, wasted: rows[0]!.wasted };
}

async function stop(run: Run): Promise<void> {
  await Promise.all(
    run.services.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
          p.once('exit', () => (clearTimeout(timer), resolve()));
          p.kill('SIGTERM');
        }),
    ),
  );
  await cleanupInstance(run.instance);
  await run.queues.close();
  await run.prefix.cleanup();
  await run.db.drop();
}

/** The picture's panel of one run and preset, in virtual hours of the day. */
function panelOf(run: Run, preset: PresetName, virtualOf: (real: number) => number): Panel {
  const hour = (real: number) => (virtualOf(real) - DAY_START) / 3_600_000;
  const pools = run.pools.filter((p) => p.preset === preset);
  const mine = run.records.filter((r) => r.preset === preset);
  return {
    desired: run.changes[preset].map((c) => ({ x: (c.at - DAY_START) / 3_600_000, y: c.desired })),
    eligible: pools.map((p) => ({ x: hour(p.at), y: p.eligible })),
    hits: mine.filter((r) => causeOf(r, run.rollouts) === 'hit').map((r) => hour(r.sentAt)),
    misses: mine.filter((r) => causeOf(r, run.rollouts) !== 'hit').map((r) => hour(r.sentAt)),
    marks: run.rollouts.filter((w) => w.preset === preset).map((w) => ({ x: hour(w.from), label: 'v2' })),
  };
}

export async function dayBench(figures: Figure[]): Promise<Record<string, unknown>> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.join(tmpdir(), `warmpool-day-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  await Promise.all([ensureWorkspaceImage('good'), ensureWorkspaceImage('broken')]);
  const runs: Run[] = [];
  let completed = false;
  try {
    // Started side by side; `runs` holds each as soon as it exists, so a failed start is cleaned up too.
    await Promise.all(CONFIG_NAMES.map((name) => start(loadDayConfig(name), dir, runs)));
    runs.sort((a, b) => CONFIG_NAMES.indexOf(a.config.name as (typeof CONFIG_NAMES)[number]) - CONFIG_NAMES.indexOf(b.config.name as (typeof CONFIG_NAMES)[number]));
    // Both start the day with converged pools (but the broken preset's, which never converges).
    await waitFor(
      async () => {
        for (const run of runs) for (const [preset, p] of await poolCounts(run)) if (preset !== 'broken' && p.eligible < p.desired) return false;
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'pools converged before the day' },
    );
    const t0 = Date.now() + 2_000;
    const realOf = (virtual: number) => t0 + (virtual - WINDOW.from) / SCALE;
    const virtualOf = (real: number) => WINDOW.from + (real - t0) * SCALE;
    log(`day starts: ${DAY_SECONDS} s for 05:00–21:00 (1 s = ${Math.round((SCALE * 1000) / 60_000)} virtual min), ${dayTrace(SEED).requests.length} requests, ready after ${READY_AFTER_S} s`);
    const done = runs.map((run) => claimants(run, realOf, dir));
    const clocks = runs.map((run) => clock(run, realOf));
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const next = Date.now() + SAMPLE_MS;
        await Promise.all(runs.map((run) => sample(run).catch((err: Error) => log(`${run.config.name}: sample failed: ${err.message}`))));
        await sleep(Math.max(0, next - Date.now()));
      }
    })();
    await Promise.all(clocks);
    const records = await Promise.all(done);
    sampling = false;
    await sampler;
    for (const [i, run] of runs.entries()) run.records = records[i]!;

    const summaries = await Promise.all(runs.map(async (run) => summarize(run.records, run.rollouts, run.samples.filter((s) => s.at <= realOf(WINDOW.to)), await counts(run))));
    const coder = dayFigures('coder', summaries[0]!);
    const warmpool = dayFigures('warmpool', summaries[1]!, summaries[0]!);
    figures.push(...coder, ...warmpool, ...ratioFigures(coder, warmpool));

    mkdirSync('.bench-results', { recursive: true });
    const svgFile = `.bench-results/day-${stamp}.svg`;
    writeFileSync(
      svgFile,
      renderDaySvg({
        title: `A working day on real containers: coder vs warmpool (seed ${SEED})`,
        subtitle: `05:00–21:00 in ${DAY_SECONDS} s; ${records[0]!.length} requests; workspace ready ${READY_AFTER_S} s after start; ${new Date().toISOString().slice(0, 16)} UTC`,
        columns: runs.map((r) => r.config.name),
        rows: PRESETS,
        panels: PRESETS.map((preset) => runs.map((run) => panelOf(run, preset, virtualOf))),
        xMin: (WINDOW.from - DAY_START) / 3_600_000,
        xMax: (WINDOW.to - DAY_START) / 3_600_000,
      }),
    );
    const meta = {
      scenario: 'day',
      seed: SEED,
      daySeconds: DAY_SECONDS,
      readyAfterSeconds: READY_AFTER_S,
      leadTimeRealSeconds: LEAD_TIME_REAL_S,
      picture: svgFile,
      configs: runs.map((run, i) => ({ ...run.config, desired: run.changes, rollouts: run.rollouts, summary: summaries[i], requests: run.records })),
    };
    writeFileSync(`.bench-results/day-${stamp}.json`, JSON.stringify({ meta, figures }, null, 2));
    log(`picture ${svgFile}, details .bench-results/day-${stamp}.json`);
    completed = true;
    return meta;
  } finally {
    for (const run of runs) await stop(run).catch((err: Error) => log(`${run.config.name}: clean-up failed: ${err.message}`));
    await redis.quit();
    // The services' logs stay behind a failed run, to read why.
    if (completed) rmSync(dir, { recursive: true, force: true });
    else log(`services' logs: ${dir}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures: Figure[] = [];
  await dayBench(figures);
  printTable(figures);
  process.exit(0);
}
