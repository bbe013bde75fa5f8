/**
 * Runs one bench section in a child process with a time budget, so that `npm run bench` always finishes: a section
 * that overruns is killed (its whole process group: the API and load generator it spawned too), and what it left
 * behind is removed by name (test databases, queue keys and containers carry the child's pid). Figures stream to a
 * file as they are produced, so a killed section still reports the figures it had.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createRedis } from '@warmpool/bus';
import { cleanupInstance, docker } from '../support/docker.js';
import { ADMIN_DATABASE_URL, REDIS_URL, scanKeys } from '../support/env.js';
import type { Figure } from './lib.js';

export const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 1);

/** Makes every `figures.push` also append the figure to `file` (one JSON line each). */
export function streamFigures(figures: Figure[], file: string): void {
  const push = figures.push.bind(figures);
  figures.push = (...items: Figure[]) => {
    for (const item of items) appendFileSync(file, `${JSON.stringify(item)}\n`);
    return push(...items);
  };
}

export async function runSection(index: number, budgetMs: number): Promise<{ figures: Figure[]; seconds: number; failure?: string }> {
  const file = path.join(tmpdir(), `warmpool-bench-${process.pid}-${index}.jsonl`);
  rmSync(file, { force: true });
  const t0 = performance.now();
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--section', String(index)], {
    env: { ...process.env, BENCH_FIGURES_FILE: file },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true, // its own process group, so a timeout kills what it spawned too
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, budgetMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const figures = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Figure)
    : [];
  rmSync(file, { force: true });
  if (timedOut) {
    await removeLeftovers(child.pid!);
    return { figures, seconds, failure: `timed out after ${Math.round(budgetMs / 1000)} s` };
  }
  return code === 0 ? { figures, seconds } : { figures, seconds, failure: `failed (exit code ${code})` };
}

/** Databases, queue keys and containers of a killed section: test support names them all after the process id. */
async function removeLeftovers(pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`wp\\_test\\_${pid}\\_%`]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  const redis = createRedis(REDIS_URL, { role: 'producer' });
  try {
    for (const { key, server } of await scanKeys(redis, `{wp_q_${pid}_*`)) await server.unlink(key);
  } finally {
    redis.disconnect();
  }
  const containers = await docker.listContainers({ all: true, filters: { label: ['warmpool.instance'] } }).catch(() => []);
  const instances = new Set(containers.map((c) => c.Labels['warmpool.instance']!).filter((i) => i.startsWith(`wp-dk-${pid}-`)));
  for (const instance of instances) await cleanupInstance(instance);
}
