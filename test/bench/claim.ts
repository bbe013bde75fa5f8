/**
 * Claim latency through the HTTP API (`npm run bench`, section `claims`): the API started as in production
 * (`node services/api`, its own process, pool of 20), the load generator (autocannon, claim-load.ts) in another
 * process, at 1, 10, 50 and 200 concurrent claimers, each claiming from a preset with enough eligible prebuilds.
 * Reports p50/p99 of the whole request and the rate, counts double claims (must be 0), and beside them the physical
 * limit: the claim statement alone (claim_prebuild, SKIP LOCKED) through a pool of the same size in this process.
 * Then the tracing overhead on claims: the same load against a second API process with tracing on.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { claimPrebuild } from '@warmpool/db';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL } from '../support/env.js';
import { userWithRole } from '../support/api.js';
import { freePort } from '../chaos/servers.js';
import { percentile, seedBulk, printTable, type Figure } from './lib.js';

// [concurrent claimers, claims]; the first pass warms the API (JIT, pool connections, caches) and is not reported.
const WARM_UP = [10, 500] as const;
const PLAN = [
  [1, 500],
  [10, 1000],
  [50, 2000],
  [200, 2000],
] as const;
const TARGET_P99: Record<number, number> = { 1: 10, 50: 25 };
// Tracing overhead: rounds of this many claims at 10 concurrent, against the API with tracing off and with it on.
const TRACING_ROUNDS = 3;
const TRACING_CLAIMS = 1000;

/** The API runs from its build, as in production: bring it up to date (incremental, quick when nothing changed). */
export function buildApi(): void {
  execFileSync('npx', ['tsc', '-b', 'tsconfig.build.json'], { stdio: 'inherit' });
}

export async function claimBench(figures: Figure[]): Promise<void> {
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix();
  const total = PLAN.reduce((n: number, [, claims]) => n + claims, WARM_UP[1]) + 1500 + TRACING_ROUNDS * 2 * TRACING_CLAIMS;
  const [presetId] = await seedBulk(db.pool, { count: 1, instances: total, running: total, tag: 'claim' });
  const { rows } = await db.pool.query<{ template_id: string; organization_id: string; name: string; version: string }>(
    `SELECT t.id AS template_id, t.organization_id, o.name, p.template_version_id AS version FROM presets p JOIN template_versions v ON v.id = p.template_version_id
     JOIN templates t ON t.id = v.template_id JOIN organizations o ON o.id = t.organization_id WHERE p.id = $1`,
    [presetId],
  );
  const { template_id: templateId, organization_id: organizationId, name: org, version } = rows[0]!;
  const { token, userId } = await userWithRole(db.pool, 'member', organizationId);
  // A second API process with tracing on (100 % sampled, OTLP export to a sink that answers at once), for the overhead.
  const sink = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end()));
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const tracingEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(sink.address() as { port: number }).port}`, OTEL_TRACES_SAMPLER: 'always_on' };
  const apiEnv = { DATABASE_URL: db.url, REDIS_URL, WARMPOOL_QUEUE_PREFIX: prefix.prefix, LOG_LEVEL: 'warn', WARMPOOL_BULL_BOARD: 'false' };
  const [port, tracedPort] = [await freePort(), await freePort()];
  // BENCH_API_NODE_ARGS: extra node flags for the API process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
  const apis = [
    [port, {}],
    [tracedPort, tracingEnv],
  ].map(([p, extra]) =>
    spawn(process.execPath, [...(process.env.BENCH_API_NODE_ARGS?.split(' ').filter(Boolean) ?? []), 'services/api'], {
      env: { ...process.env, ...apiEnv, ...(extra as Record<string, string>), WARMPOOL_HTTP_PORT: String(p) },
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  try {
    const url = `http://127.0.0.1:${port}/api/v1/organizations/${org}/workspaces`;
    for (const [i, p] of [port, tracedPort].entries()) {
      for (let tries = 0; (await fetch(`http://127.0.0.1:${p}/healthz`).catch(() => undefined))?.ok !== true; tries++) {
        if (apis[i]!.exitCode !== null || tries > 300) throw new Error(`the API did not start (exit code ${apis[i]!.exitCode})`);
        await sleep(100);
      }
    }
    const load = (target: string, credential: string, concurrency: number, claims: number, name: string) => {
      const out = execFileSync(process.execPath, ['--conditions=development', '--import', 'tsx', 'test/bench/claim-load.ts', target, credential, templateId, presetId!, String(concurrency), String(claims), name], { encoding: 'utf8' });
      return JSON.parse(out.trim().split('\n').at(-1)!) as { p50: number; p99: number; rps: number; non2xx: number; errors: number; total: number };
    };
    // The claim statement alone (claim_prebuild, SKIP LOCKED) from this process through a pool of 20 like the API's.
    let raw = 0;
    const rawClaims = async (concurrency: number, n: number) => {
      const latencies: number[] = [];
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (latencies.length + concurrency <= n) {
            const s = performance.now();
            await claimPrebuild(db.pool, { presetId: presetId!, userId, name: `raw-${raw++}`, priority: 1, templateId, versionId: version });
            latencies.push(performance.now() - s);
          }
        }),
      );
      return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), rate: latencies.length / ((performance.now() - t0) / 1000) };
    };
    load(url, token, WARM_UP[0], WARM_UP[1], 'warm-up');
    for (const [concurrency, claims] of PLAN) {
      const r = load(url, token, concurrency, claims, `c${concurrency}`);
      const target = TARGET_P99[concurrency];
      figures.push({ name: `claim through HTTP, ${concurrency} concurrent, p50`, value: r.p50, unit: 'ms', note: `${r.total} claims, ${Math.round(r.rps)} claims/s, ${r.non2xx} non-2xx, ${r.errors} errors` });
      figures.push({ name: `claim through HTTP, ${concurrency} concurrent, p99`, value: r.p99, unit: 'ms', ...(target ? { target: `≤ ${target}`, ok: r.p99 <= target && r.non2xx === 0 } : {}) });
      // Baselines in the same run: a trivial route of the same API (GET /healthz: same server and hooks, no database)
      // under the same load, and the claim statement alone at the same concurrency.
      const trivial = load(`http://127.0.0.1:${port}/healthz`, '-', concurrency, claims, 'trivial');
      figures.push({ name: `  baseline: trivial route (GET /healthz), ${concurrency} concurrent, p50 / p99`, value: trivial.p99, unit: 'ms (p99)', note: `p50 ${trivial.p50} ms, ${Math.round(trivial.rps)} requests/s` });
      if (target) {
        const alone = await rawClaims(concurrency, concurrency === 1 ? 300 : 1000);
        figures.push({
          name: `  physical limit: claim statement alone, ${concurrency} concurrent, pool of 20, p99`,
          value: Math.round(alone.p99 * 10) / 10,
          unit: 'ms',
          note: `p50 ${alone.p50.toFixed(1)} ms, ${Math.round(alone.rate)} claims/s; no HTTP`,
        });
      }
    }
    // Tracing overhead on claims (issue 28): the same load against the API with tracing off and the one with it on,
    // rounds alternated so drifts of the machine hit both; each API warmed first.
    const traced = `http://127.0.0.1:${tracedPort}/api/v1/organizations/${org}/workspaces`;
    load(traced, token, WARM_UP[0], WARM_UP[1] / 2, 'warm-up-traced');
    const rounds: { off: number[]; on: number[]; offP50: number[]; onP50: number[] } = { off: [], on: [], offP50: [], onP50: [] };
    for (let round = 0; round < TRACING_ROUNDS; round++) {
      const off = load(url, token, 10, TRACING_CLAIMS, `off-${round}`);
      const on = load(traced, token, 10, TRACING_CLAIMS, `on-${round}`);
      rounds.off.push(off.rps);
      rounds.on.push(on.rps);
      rounds.offP50.push(off.p50);
      rounds.onP50.push(on.p50);
    }
    const median = (xs: number[]) => percentile(xs, 50);
    const overhead = (1 - median(rounds.on) / median(rounds.off)) * 100;
    figures.push({ name: 'claims at 10 concurrent, tracing off', value: Math.round(median(rounds.off)), unit: 'claims/s', note: `p50 ${median(rounds.offP50)} ms; rounds ${rounds.off.map(Math.round).join(', ')}` });
    figures.push({ name: 'claims at 10 concurrent, tracing on (100 % sampled, OTLP export)', value: Math.round(median(rounds.on)), unit: 'claims/s', note: `p50 ${median(rounds.onP50)} ms; rounds ${rounds.on.map(Math.round).join(', ')}` });
    figures.push({ name: '  tracing overhead on claims', value: Math.round(overhead * 10) / 10, unit: '%', target: '≤ 10%', ok: overhead <= 10 });
    const doubles = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT workspace_id FROM builds WHERE reason = 'claim' GROUP BY workspace_id HAVING count(*) > 1) d`,
    );
    figures.push({ name: 'double claims', value: doubles.rows[0]!.n, unit: '', target: '0', ok: doubles.rows[0]!.n === 0 });
  } finally {
    await Promise.all(apis.map((api) => (api.kill('SIGTERM'), new Promise((r) => api.once('exit', r)))));
    sink.close();
    await prefix.cleanup();
    await db.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures: Figure[] = [];
  buildApi();
  await claimBench(figures);
  printTable(figures);
  process.exit(0);
}
