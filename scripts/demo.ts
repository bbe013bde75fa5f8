/**
 * `npm start`: runs the whole system on this machine and shows the pools converging.
 *
 * Creates (or with --keep reuses) the `warmpool_demo` database and queue prefix, migrates, bootstraps an
 * organization with an owner token, imports examples/*.json, starts every service as its own process (two
 * reconciler replicas), the simulated provisioner, a webhook receiver and a local SMTP sink, then prints each preset's counts every
 * second. After a few seconds it claims a workspace through the API to show the refill. Ctrl-C stops everything
 * gracefully. `--duration <s>` stops by itself (used by the smoke test). `--provisioner docker` runs real
 * containers on the local Docker Engine (examples/docker/*.json, image built locally from busybox) instead of
 * the simulator, and removes the demo's containers when it stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import Docker from 'dockerode';
import { createPool, loadPoolRows, migrate, recreateDatabase, type Pool, type PoolRow } from '@warmpool/db';
import type { SizingView } from '@warmpool/core';
import { sizePoolRows } from '@warmpool/operations';
import { ensureBusyboxImage, removeInstance } from '@warmpool/provisioner-docker';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string' },
    keep: { type: 'boolean', default: false },
    port: { type: 'string', default: '8080' },
    provisioner: { type: 'string', default: 'sim' },
  },
});
if (args.provisioner !== 'sim' && args.provisioner !== 'docker') {
  console.error(`--provisioner must be sim or docker, got ${JSON.stringify(args.provisioner)}`);
  process.exit(2);
}
const DOCKER = args.provisioner === 'docker';
/** The demo's containers carry warmpool.instance=<this>: `docker ps --filter label=warmpool.instance=warmpool-demo`. */
const DOCKER_INSTANCE = 'warmpool-demo';
const DEMO_IMAGE = 'warmpool-demo-busybox:1';

const ROOT = path.resolve(import.meta.dirname, '..');
const LOG_DIR = path.join(ROOT, '.demo-logs');
const ADMIN_URL = process.env.WARMPOOL_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'warmpool_demo';
const DATABASE_URL = new URL(ADMIN_URL);
DATABASE_URL.pathname = `/${DB_NAME}`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = 'warmpool-demo';
const API_URL = `http://127.0.0.1:${args.port}`;
const WEBHOOK_PORT = 9787;
const WEBHOOK_SECRET = 'demo-webhook-secret-not-for-production';
const SMTP_PORT = 9788;

const env = {
  ...process.env,
  DATABASE_URL: DATABASE_URL.toString(),
  REDIS_URL,
  WARMPOOL_QUEUE_PREFIX: PREFIX,
  WARMPOOL_HTTP_PORT: args.port,
  WARMPOOL_PUBLIC_URL: API_URL,
  WARMPOOL_WEBHOOK_URL: `http://127.0.0.1:${WEBHOOK_PORT}/hooks`,
  WARMPOOL_WEBHOOK_SECRET: WEBHOOK_SECRET,
  // E-mail goes to examples/smtp-sink.mjs on loopback (plain SMTP is only acceptable there).
  WARMPOOL_SMTP_HOST: '127.0.0.1',
  WARMPOOL_SMTP_PORT: String(SMTP_PORT),
  WARMPOOL_SMTP_TLS: 'none',
  WARMPOOL_SMTP_FROM: 'Warmpool demo <warmpool@localhost>',
  // Short intervals so the demo shows backoff and the failure limit within a minute.
  WARMPOOL_BACKOFF_INTERVAL_MS: '3000',
  WARMPOOL_RECONCILE_INTERVAL_MS: '5000',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  SIM_BUILD_MS: '1500',
  SIM_AGENT_READY_MS: '700',
  SIM_REPLACEMENT_RATE: '1',
  DOCKER_PROVISIONER_INSTANCE: DOCKER_INSTANCE,
  DOCKER_PROVISIONER_STOP_TIMEOUT_S: '1',
};

/** Checks the engine answers (with a clear way out when not) and builds the demo image locally. */
async function prepareDocker(): Promise<Docker> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (err) {
    console.error(
      `No Docker Engine answers (${process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'}: ${(err as Error).message}).\n` +
        'Start one (bash scripts/ensure-docker.sh installs and starts dockerd), set DOCKER_HOST, or run `npm start` without --provisioner docker.',
    );
    process.exit(1);
  }
  await ensureBusyboxImage(docker, DEMO_IMAGE);
  if (!args.keep) await removeInstance(docker, DOCKER_INSTANCE);
  return docker;
}

async function resetState(): Promise<void> {
  await recreateDatabase(ADMIN_URL, DB_NAME, { keep: args.keep });
  if (!args.keep) {
    const redis = new Redis(REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${PREFIX}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

const children: { name: string; proc: ChildProcess }[] = [];

function startProcess(name: string, command: string[], extraEnv: Record<string, string> = {}, pipeStdout = false): ChildProcess {
  mkdirSync(LOG_DIR, { recursive: true });
  const log = openSync(path.join(LOG_DIR, `${name}.log`), 'w');
  const proc = spawn(process.execPath, command, { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', pipeStdout ? 'pipe' : log, log] });
  proc.on('exit', (code, signal) => {
    if (!stopping) console.error(`\n${name} exited (${signal ?? code}); see .demo-logs/${name}.log`);
  });
  children.push({ name, proc });
  return proc;
}

function runCli(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['packages/cli/dist/main.js', ...argv], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    proc.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`warmpool ${argv.join(' ')}: ${err || out}`))));
  });
}

let stopping = false;
async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all(
    children.map(
      ({ proc }) =>
        new Promise<void>((resolve) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
          const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
          proc.on('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          proc.kill('SIGTERM');
        }),
    ),
  );
}

type Row = PoolRow & { label: string; sizing: SizingView | undefined };

/**
 * The pools of active presets, from the same views and query as the pool metrics (eligible includes the TTL), with
 * the desired count and its source as the metrics compute it (the schedule, or the preset's autoscaling policy).
 */
async function poolRows(pool: Pool): Promise<Row[]> {
  const rows = (await loadPoolRows(pool)).filter((r) => r.active);
  const sizing = await sizePoolRows(pool, rows, new Date());
  return rows.map((r) => ({ ...r, label: `${r.template_name}/${r.preset_name}`, sizing: sizing.get(r.preset_id) }));
}

// The services inherit this process's environment, so the standard OTEL_* variables reach every one of them.
const OTLP_ENDPOINT = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
const TRACES_LINE = OTLP_ENDPOINT
  ? `Traces: exported over OTLP to ${OTLP_ENDPOINT}; open your Jaeger or Tempo UI and pick service warmpool-api, then a claim (POST …/workspaces)`
  : 'Traces: off. Start Jaeger (OTLP/HTTP on 4318) and run OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npm start to follow each claim (docs/OPERATIONS.md, Traces)';

function render(rows: Row[], started: number, notes: string[]): string {
  const head = ['preset', 'desired', 'running', 'eligible', 'starting', 'failed', 'status', 'target source'];
  const body = rows.map((r) => [
    r.label,
    String(r.sizing?.target ?? 0),
    String(r.running),
    String(r.eligible),
    String(r.starting),
    String(r.failed_now),
    r.status,
    r.sizing?.source ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [
    `Warmpool demo — ${Math.round((Date.now() - started) / 1000)} s — API ${API_URL} — Bull Board ${API_URL}/admin/queues — logs .demo-logs/`,
    `Pools console: ${API_URL}/console/ (sign in with the token in .demo-logs/token)`,
    TRACES_LINE,
    '',
    line(head),
    line(widths.map((w) => '─'.repeat(w))),
    ...body.map(line),
    '',
    ...notes.slice(-10),
    '',
    'Ctrl-C stops every service gracefully.',
  ].join('\n');
}

/** The organization, the owner and template-admin tokens, and the example templates, through the CLI. Returns the owner token. */
async function seedThroughCli(notes: string[]): Promise<string> {
  await runCli(['org', 'create', 'acme']);
  const token = (await runCli(['token', 'create', '--user', 'demo-owner', '--role', 'owner', '--email', 'demo-owner@example.com', '--quiet'])).split('\n').pop()!;
  await runCli(['token', 'create', '--user', 'acme-template-admin', '--role', 'template-admin', '--org', 'acme', '--email', 'acme-admin@example.com', '--quiet']);
  notes.push(`owner token for the API: ${token.slice(0, 10)}… (full token in .demo-logs/token)`);
  writeFileSync(path.join(LOG_DIR, 'token'), `${token}\n`, { mode: 0o600 });
  const examples = DOCKER
    ? ([['examples/docker/web-app.json', 'web-app'], ['examples/docker/flaky.json', 'flaky']] as const)
    : ([['examples/web-app.json', 'web-app'], ['examples/data-science.json', 'data-science'], ['examples/flaky.json', 'flaky']] as const);
  if (DOCKER) notes.push(`real containers: docker ps --filter label=warmpool.instance=${DOCKER_INSTANCE}`);
  for (const [file, template] of examples) {
    await runCli(['import', file, '--org', 'acme', '--template', template, '--activate']);
    notes.push(`imported ${file} as acme/${template}`);
  }
  return token;
}

/** Each JSON line a child prints becomes a note (or the raw line, cut, when it is not JSON). */
function onJsonLines<T>(child: ChildProcess, what: string, notes: string[], describe: (value: T) => string): void {
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      try {
        notes.push(describe(JSON.parse(line) as T));
      } catch {
        notes.push(`${what}: ${line.slice(0, 120)}`);
      }
    }
  });
}

/** The example webhook receiver and SMTP sink, then every service as its own process (two reconcilers). */
function startEverything(notes: string[]): void {
  // The example receiver prints each verified webhook message once, as a JSON line; the SMTP sink each e-mail.
  const receiver = startProcess('webhook-receiver', ['examples/webhook-receiver.mjs'], { PORT: String(WEBHOOK_PORT) }, true);
  onJsonLines(receiver, 'webhook', notes, (msg: { message?: { title?: string } }) => `webhook received (signature verified): ${msg.message?.title}`);
  const sink = startProcess('smtp-sink', ['examples/smtp-sink.mjs'], { PORT: String(SMTP_PORT) }, true);
  onJsonLines(sink, 'e-mail', notes, (mail: { to?: string[]; subject?: string }) => `e-mail received at the local SMTP sink by ${mail.to?.join(', ')}: ${mail.subject}`);
  startProcess('api', ['services/api']);
  startProcess('scheduler', ['services/scheduler']);
  startProcess('reconciler-1', ['services/reconciler']);
  startProcess('reconciler-2', ['services/reconciler']);
  startProcess('notifier', ['services/notifier']);
  if (DOCKER) startProcess('provisioner-docker', ['services/provisioner-docker']);
  else startProcess('provisioner-sim', ['services/provisioner-sim']);
}

function requestWorkspace(token: string, body: { template_id: string; name: string; preset_id: string }): Promise<Response> {
  return fetch(`${API_URL}/api/v1/organizations/acme/workspaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/**
 * What the demo shows on its own, once each: a claim from web-app/eu-small once it has an eligible prebuild, then a
 * burst of requests that raises data-science/cpu-notebook's demand-driven target. Call the result on every redraw.
 */
function demoScript(token: string, notes: string[]): (rows: Row[]) => Promise<void> {
  let claimed = false;
  let burst = false;
  const claimOnce = async (ready: Row) => {
    claimed = true;
    const t0 = performance.now();
    const res = await requestWorkspace(token, { template_id: ready.template_id, name: 'alice-dev', preset_id: ready.preset_id }).catch(
      (err: Error) => ({ ok: false, status: 0, json: async () => ({ message: err.message }) }),
    );
    const body = (await res.json()) as { claimed?: boolean; message?: string };
    // The pools may be ready before the api listens: no answer at all is retried on the next redraw.
    if (res.status === 0) {
      claimed = false;
      return;
    }
    notes.push(res.ok ? `claimed a prebuild of web-app/eu-small in ${Math.round(performance.now() - t0)} ms (claimed: ${body.claimed}); the pool refills at once` : `claim failed: ${res.status} ${body.message}`);
  };
  // data-science/cpu-notebook sizes itself from demand (its expression reads the claims of the last 10 minutes):
  // a burst of three requests raises its desired count from the schedule's 2 to 4, and the status says so.
  const burstOnce = async (notebook: Row) => {
    burst = true;
    const results = await Promise.all(
      ['bob-nb', 'carol-nb', 'dave-nb'].map((name) => requestWorkspace(token, { template_id: notebook.template_id, name, preset_id: notebook.preset_id }).then((r) => r.ok, () => false)),
    );
    const served = results.filter(Boolean).length;
    if (served === 0) burst = false;
    else notes.push(`${served} requests for data-science/cpu-notebook: its pool follows demand (target source "expression": max(scheduled_target, claims_10m + misses_10m + 1) → desired ${Math.max(2, served + 1)})`);
  };
  return async (rows) => {
    const ready = rows.find((r) => r.label === 'web-app/eu-small' && r.eligible > 0);
    if (!claimed && ready) await claimOnce(ready);
    const notebook = rows.find((r) => r.label === 'data-science/cpu-notebook' && r.eligible >= 2);
    if (claimed && !burst && notebook) await burstOnce(notebook);
  };
}

async function main(): Promise<void> {
  mkdirSync(LOG_DIR, { recursive: true });
  const docker = DOCKER ? await prepareDocker() : undefined;
  await resetState();
  const pool = createPool(DATABASE_URL.toString(), { max: 2, applicationName: 'warmpool-demo' });
  await migrate(pool);
  const notes: string[] = [];
  const token = await seedThroughCli(notes);
  startEverything(notes);

  const started = Date.now();
  const step = demoScript(token, notes);
  const onSignal = () => void shutdown(0);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer = setInterval(() => {
    void (async () => {
      const rows = await poolRows(pool).catch(() => [] as Row[]);
      await step(rows);
      process.stdout.write('\x1b[2J\x1b[H' + render(rows, started, notes) + '\n');
      if (args.duration && Date.now() - started > Number(args.duration) * 1000) await shutdown(0);
    })();
  }, 1000);

  async function shutdown(code: number): Promise<void> {
    if (stopping) return;
    clearInterval(timer);
    console.log('\nstopping services…');
    await stopAll();
    await pool.end();
    if (docker && !args.keep) console.log(`removed ${await removeInstance(docker, DOCKER_INSTANCE)} demo containers`);
    console.log('all services stopped');
    process.exit(code);
  }
}

main().catch(async (err: unknown) => {
  console.error(err);
  await stopAll();
  process.exit(1);
});
