/**
 * `npm run test:deploy`: the deploy path of the README, run for real on the local Docker Engine. Builds the base-image
 * stand-ins (scripts/stand-in-images.sh) and the Warmpool image, `up`s docker-compose.yml under a project name of its
 * own, then checks: every health check green, the pools converge, a claim through the published api port, a SIGKILLed
 * reconciler brought back by the restart policy, the Docker profile converging to the desired number of labelled
 * workspace containers, and nothing left after `down -v`. Prints `N passed, N failed, N skipped` last.
 *
 * Environment: WARMPOOL_COMPOSE ("docker compose" or "docker-compose"; default: the first that answers),
 * WARMPOOL_API_PORT (default: a free port), WARMPOOL_DEPLOY_PUBLIC_IMAGES=1 (use the public base images, no
 * stand-ins), WARMPOOL_DEPLOY_TIMEOUT_MS (whole run, default 600000).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureBusyboxImage } from '@warmpool/provisioner-docker';
import { cleanupInstance, docker, instanceContainers } from '../support/docker.js';
import { waitFor } from '../support/wait.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const started = Date.now();
const TOTAL_MS = Number(process.env.WARMPOOL_DEPLOY_TIMEOUT_MS ?? 600_000);
const PROJECT = `warmpool-deploy-${process.pid}`;
const INSTANCE = `warmpool-deploy-${process.pid}`;
/** examples/docker/web-app.json runs this image (the demo's, built from Debian's busybox; nothing is pulled). */
const WORKSPACE_IMAGE = 'warmpool-demo-busybox:1';
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const log = (line: string) => console.log(`[${secs(Date.now() - started).padStart(7)}] ${line}`);

/** Runs a command; rejects with its output when it fails. */
async function sh(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { cwd: ROOT, env: options.env ?? process.env, maxBuffer: 64 << 20, timeout: options.timeoutMs ?? 300_000 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim().slice(-3000)}`, { cause: err });
  }
}

async function composeCommand(): Promise<string[]> {
  if (process.env.WARMPOOL_COMPOSE) return process.env.WARMPOOL_COMPOSE.split(' ');
  for (const candidate of [['docker', 'compose'], ['docker-compose']]) {
    const ok = await run(candidate[0]!, [...candidate.slice(1), 'version'], { timeout: 30_000 }).then(() => true, () => false);
    if (ok) return candidate;
  }
  throw new Error('neither `docker compose` (Compose v2) nor `docker-compose` answers: apt-get install docker-compose');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const results: { name: string; ok: boolean | 'skipped'; detail: string }[] = [];
let failedOnce = false;
/** One check: skipped once an earlier check failed (each needs the stack the previous ones built). */
async function check(name: string, body: () => Promise<string>, options: { always?: boolean } = {}): Promise<void> {
  if (failedOnce && !options.always) {
    results.push({ name, ok: 'skipped', detail: 'an earlier check failed' });
    console.log(`- ${name}: skipped`);
    return;
  }
  const t0 = Date.now();
  const remaining = TOTAL_MS - (Date.now() - started);
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      body(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the run's ${secs(TOTAL_MS)} budget ran out`)), options.always ? 180_000 : Math.max(remaining, 1));
      }),
    ]);
    results.push({ name, ok: true, detail });
    console.log(`ok ${name} (${secs(Date.now() - t0)}): ${detail}`);
  } catch (err) {
    failedOnce = true;
    results.push({ name, ok: false, detail: (err as Error).message });
    console.log(`FAIL ${name} (${secs(Date.now() - t0)}): ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

const compose = await composeCommand().catch((err: Error) => {
  console.log(`FAIL compose: ${err.message}\n0 passed, 1 failed`);
  process.exit(1);
});
const port = Number(process.env.WARMPOOL_API_PORT ?? (await freePort()));
const API = `http://127.0.0.1:${port}/api/v1`;
const workDir = await mkdtemp(path.join(tmpdir(), 'warmpool-deploy-'));
const envFile = path.join(workDir, '.env');
const env: NodeJS.ProcessEnv = { ...process.env };
// The secrets of this run: .env.example's DEMO values replaced by random ones, as the README asks of a deployment.
const secrets = {
  POSTGRES_PASSWORD: randomBytes(18).toString('hex'),
  WARMPOOL_WEBHOOK_SECRET: randomBytes(24).toString('hex'),
  WARMPOOL_METRICS_TOKEN: randomBytes(24).toString('hex'),
};
const overrides: Record<string, string> = {
  ...secrets,
  WARMPOOL_API_PORT: String(port),
  WARMPOOL_PUBLIC_URL: `http://localhost:${port}`,
  DOCKER_PROVISIONER_INSTANCE: INSTANCE,
  WARMPOOL_IMAGE: 'warmpool:local',
  // Short ticks so convergence after the kill is bounded by seconds, not the 15 s default.
  WARMPOOL_RECONCILE_INTERVAL_MS: '5000',
};
const dc = (args: string[], options: { timeoutMs?: number } = {}) => sh(compose[0]!, [...compose.slice(1), '-p', PROJECT, '--env-file', envFile, ...args], { env, ...options });
const cli = async (args: string[]) => (await dc(['exec', '-T', 'api', 'node', 'packages/cli/dist/main.js', ...args])).trim();

type Preset = { preset: string; desiredNow: number; running: number; eligible: number; starting: number; status: string };
let token = '';
async function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${API}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, json: (await res.json()) as T };
}
/** Every active preset of the organization with running = eligible = desired now and nothing starting; else null. */
async function converged(org: string): Promise<Preset[] | null> {
  const { status, json } = await api<Preset[]>('GET', `/organizations/${org}/presets`).catch(() => ({ status: 0, json: [] as Preset[] }));
  if (status !== 200 || json.length === 0) return null;
  return json.every((p) => p.running === p.desiredNow && p.eligible === p.desiredNow && p.starting === 0) ? json : null;
}
const poolLine = (presets: Preset[]) => presets.map((p) => `${p.preset} ${p.running}/${p.desiredNow}`).join(', ');

type Container = Awaited<ReturnType<typeof docker.listContainers>>[number];
const projectContainers = (all = false): Promise<Container[]> =>
  docker.listContainers({ all, filters: { label: [`com.docker.compose.project=${PROJECT}`] } });
const service = (c: Container) => c.Labels['com.docker.compose.service'] ?? '?';
/** Null while any running service container with a health check is not healthy yet. */
async function allHealthy(expected: Record<string, number>): Promise<string | null> {
  const running = await projectContainers();
  const counts: Record<string, number> = {};
  for (const c of running) counts[service(c)] = (counts[service(c)] ?? 0) + 1;
  for (const [name, n] of Object.entries(expected)) if (counts[name] !== n) return null;
  const statuses = await Promise.all(running.map(async (c) => (await docker.getContainer(c.Id).inspect()).State.Health?.Status ?? 'none'));
  if (statuses.some((s) => s !== 'healthy' && s !== 'none')) return null;
  return Object.entries(counts).map(([k, v]) => `${k}×${v}`).join(' ');
}
const CORE = { postgres: 1, redis: 1, api: 1, scheduler: 2, reconciler: 3, notifier: 1, 'provisioner-sim': 1, 'webhook-receiver': 1 };

const timings: Record<string, string> = {};
try {
  await check('base images', async () => {
    if (process.env.WARMPOOL_DEPLOY_PUBLIC_IMAGES === '1') return 'the public images (WARMPOOL_DEPLOY_PUBLIC_IMAGES=1)';
    const out = await sh('bash', ['scripts/stand-in-images.sh'], { env: { ...process.env, WARMPOOL_STAND_INS: 'node postgres redis' }, timeoutMs: 1_800_000 });
    for (const [, name, value] of out.matchAll(/^export (\w+_IMAGE)=(\S+)$/gm)) env[name!] = value!;
    return ['NODE_IMAGE', 'POSTGRES_IMAGE', 'REDIS_IMAGE'].map((k) => `${k}=${env[k]}`).join(' ');
  });

  await check('env file from .env.example', async () => {
    let text = await readFile(path.join(ROOT, '.env.example'), 'utf8');
    for (const key of Object.keys(secrets)) {
      if (!new RegExp(`# DEMO value[^\\n]*\\n${key}=`).test(text)) throw new Error(`.env.example: ${key} is not marked as a DEMO value`);
    }
    for (const [key, value] of Object.entries(overrides)) {
      const line = new RegExp(`^#?${key}=.*$`, 'm');
      text = line.test(text) ? text.replace(line, `${key}=${value}`) : `${text}\n${key}=${value}\n`;
    }
    await writeFile(envFile, text, { mode: 0o600 });
    return `${envFile} (api on port ${port}, project ${PROJECT})`;
  });

  await check('image build', async () => {
    const t0 = Date.now();
    const revision = (await sh('git', ['rev-parse', 'HEAD']).catch(() => 'unknown')).trim();
    env.WARMPOOL_REVISION = revision;
    // The CAs this machine added (a TLS-inspecting proxy in front of the npm registry), for the build stage's npm ci.
    if (env.BUILD_CA_CERTS === undefined) {
      const local = '/usr/local/share/ca-certificates';
      const files = await readdir(local).catch(() => [] as string[]);
      env.BUILD_CA_CERTS = (await Promise.all(files.filter((f) => f.endsWith('.crt')).sort().map(async (f) => (await readFile(path.join(local, f), 'utf8')).trimEnd()))).join('\n');
    }
    await dc(['build', 'migrate'], { timeoutMs: 1_200_000 });
    timings.build = secs(Date.now() - t0);
    const image = await docker.getImage('warmpool:local').inspect();
    const labels = image.Config.Labels ?? {};
    if (labels['org.opencontainers.image.revision'] !== revision) throw new Error(`revision label ${labels['org.opencontainers.image.revision']}, expected ${revision}`);
    if (!labels['org.opencontainers.image.version'] || !labels['org.opencontainers.image.source']) throw new Error('OCI version or source label missing');
    if (!image.Config.User || image.Config.User === 'root' || image.Config.User === '0') throw new Error(`runs as ${JSON.stringify(image.Config.User)}`);
    if (!image.Config.Healthcheck?.Test?.length) throw new Error('no HEALTHCHECK');
    const baked = JSON.stringify(image.Config.Env ?? []);
    for (const [key, value] of Object.entries(secrets)) if (baked.includes(key) || baked.includes(value)) throw new Error(`${key} is in the image`);
    const history = await sh('docker', ['history', '--no-trunc', 'warmpool:local']);
    for (const value of Object.values(secrets)) if (history.includes(value)) throw new Error('a secret is in the image history');
    timings.size = `${Math.round(image.Size / 1e6)} MB`;
    return `warmpool:local ${timings.size} in ${timings.build}, user ${image.Config.User}, revision ${revision.slice(0, 12)}`;
  });

  await check('compose up: every service up, health checks green', async () => {
    const t0 = Date.now();
    await dc(['up', '-d'], { timeoutMs: 480_000 });
    const migrate = (await projectContainers(true)).find((c) => service(c) === 'migrate');
    const exit = migrate && (await docker.getContainer(migrate.Id).inspect()).State.ExitCode;
    if (exit !== 0) throw new Error(`migrate exited with ${exit}`);
    const line = await waitFor(() => allHealthy(CORE), { timeoutMs: 60_000, intervalMs: 1000, what: `every service of ${PROJECT} running and healthy` });
    timings.up = secs(Date.now() - t0);
    return `${line}, migrate exited 0`;
  });

  let templateId = '';
  await check('seed with the CLI in the image, pools converge', async () => {
    await cli(['org', 'create', 'acme']);
    token = await cli(['token', 'create', '--user', 'deploy-test', '--role', 'owner', '--quiet']);
    const t0 = Date.now();
    const imported = JSON.parse(await cli(['import', 'examples/web-app.json', '--org', 'acme', '--template', 'web-app', '--activate', '--json'])) as { templateId: string };
    templateId = imported.templateId;
    const presets = await waitFor(() => converged('acme'), { timeoutMs: 60_000, intervalMs: 1000, what: 'the pools of acme to converge (running = eligible = desired now)' });
    timings.converge = secs(Date.now() - t0);
    return `${poolLine(presets)} in ${timings.converge} after the import`;
  });

  await check('claim through the published api port', async () => {
    const { status, json } = await api<{ claimed: boolean; workspace: { id: string } }>('POST', '/organizations/acme/workspaces', {
      template_id: templateId,
      name: 'deploy-test',
      parameters: { region: 'eu-west', size: 'small' },
    });
    if (status !== 201 || !json.claimed) throw new Error(`answered ${status} ${JSON.stringify(json)}`);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${secrets.WARMPOOL_METRICS_TOKEN}` } });
    if (metrics.status !== 200) throw new Error(`/metrics with the metrics token answered ${metrics.status}`);
    return `claimed a prebuild (workspace ${json.workspace.id}); /metrics answers the token`;
  });

  await check('SIGKILL of a reconciler: the restart policy brings it back, pools converge', async () => {
    const victim = (await projectContainers()).find((c) => service(c) === 'reconciler');
    if (!victim) throw new Error('no reconciler container');
    const before = await docker.getContainer(victim.Id).inspect();
    const t0 = Date.now();
    // Killed from the host like the OOM killer would (a `docker kill` counts as a manual stop for the policy).
    process.kill(before.State.Pid, 'SIGKILL');
    await waitFor(
      async () => {
        const now = await docker.getContainer(victim.Id).inspect();
        return now.RestartCount > before.RestartCount && now.State.Running && now.State.Health?.Status === 'healthy';
      },
      { timeoutMs: 40_000, intervalMs: 1000, what: `reconciler ${victim.Names[0]} restarted and healthy again` },
    );
    const back = secs(Date.now() - t0);
    const presets = await waitFor(() => converged('acme'), { timeoutMs: 40_000, intervalMs: 1000, what: 'the pools of acme to converge after the claim and the kill' });
    return `${victim.Names[0]} restarted and healthy in ${back}; ${poolLine(presets)}`;
  });

  await check('--profile docker: labelled workspace containers on the host engine', async () => {
    await ensureBusyboxImage(docker, WORKSPACE_IMAGE);
    await dc(['--profile', 'docker', 'up', '-d', '--scale', 'provisioner-sim=0'], { timeoutMs: 300_000 });
    await waitFor(() => allHealthy({ ...CORE, 'provisioner-sim': 0, 'provisioner-docker': 1 }), {
      timeoutMs: 60_000,
      intervalMs: 1000,
      what: 'provisioner-docker running and healthy, provisioner-sim gone',
    });
    await cli(['org', 'create', 'acme-docker']);
    const t0 = Date.now();
    await cli(['import', 'examples/docker/web-app.json', '--org', 'acme-docker', '--template', 'web-app', '--activate', '--json']);
    let count = 0;
    const presets = await waitFor(
      async () => {
        const pools = await converged('acme-docker');
        const containers = await instanceContainers(INSTANCE, false);
        count = containers.length;
        const desired = pools?.reduce((sum, p) => sum + p.desiredNow, 0);
        return pools && desired === count && containers.every((c) => c.Labels['warmpool.instance'] === INSTANCE) ? pools : null;
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: `running containers labelled warmpool.instance=${INSTANCE} to equal the desired prebuilds of acme-docker` },
    );
    return `${count} containers labelled warmpool.instance=${INSTANCE} (${poolLine(presets)}) in ${secs(Date.now() - t0)}`;
  });
} finally {
  if (failedOnce) {
    // What the services said about the failure, before the stack is removed.
    console.log(await dc(['ps']).catch((err: Error) => err.message));
    console.log(await dc(['logs', '--no-color', '--tail', '30']).catch((err: Error) => err.message));
  }
  await check(
    'down -v leaves nothing',
    async () => {
      await dc(['--profile', 'docker', '--profile', 'monitoring', 'down', '-v', '--remove-orphans'], { timeoutMs: 180_000 });
      // The workspace containers are the host engine's, not the project's: the README removes them the same way.
      await cleanupInstance(INSTANCE);
      const filters = { label: [`com.docker.compose.project=${PROJECT}`] };
      const left = [
        ...(await docker.listContainers({ all: true, filters })).map((c) => `container ${c.Names[0]}`),
        ...((await docker.listVolumes({ filters })).Volumes ?? []).map((v) => `volume ${v.Name}`),
        ...(await docker.listNetworks({ filters })).map((n) => `network ${n.Name}`),
        ...(await instanceContainers(INSTANCE)).map((c) => `workspace container ${c.Names[0]}`),
        ...((await docker.listVolumes({ filters: { label: [`warmpool.instance=${INSTANCE}`] } })).Volumes ?? []).map((v) => `workspace volume ${v.Name}`),
      ];
      if (left.length > 0) throw new Error(`left behind: ${left.join(', ')}`);
      return `no container, volume or network of ${PROJECT}, no workspace container of ${INSTANCE}`;
    },
    { always: true },
  );
  await rm(workDir, { recursive: true, force: true });
}

log(`timings: ${JSON.stringify(timings)}`);
const count = (v: boolean | 'skipped') => results.filter((r) => r.ok === v).length;
console.log(`${count(true)} passed, ${count(false)} failed, ${count('skipped')} skipped`);
process.exit(count(false) > 0 ? 1 : 0);
