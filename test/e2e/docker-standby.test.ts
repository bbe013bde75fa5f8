import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { createQueueSet, createRedis, enqueueReconcile, type QueueSet } from '@warmpool/bus';
import { claimPrebuild, ensureUser } from '@warmpool/db';
import { LABEL, loadDockerOptions, startDockerProvisioner, type DockerProvisioner } from '@warmpool/provisioner-docker';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { cleanupInstance, docker, ensureTestImage, testInstance } from '../support/docker.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { poolHelpers, POOL_TIMEOUT_MS as TIMEOUT } from '../support/docker-pool.js';
import { waitFor } from '../support/wait.js';

// Standby tiers (issue 25) on a real Docker Engine: the reconciler (with its results worker) and the Docker
// provisioner, real Redis and PostgreSQL, a per-run instance label. One pool of 1 hot + 3 frozen walks through
// the scenarios in order (node runs a file's tests one after the other).
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let reconciler: Reconciler;
let provisioner: DockerProvisioner;
let queues: QueueSet;
let image: string;
const redis = createRedis(REDIS_URL, { role: 'producer' });
const instance = testInstance();
const logger = createLogger('test', { level: process.env.WARMPOOL_TEST_LOG ?? 'silent' });

before(async () => {
  image = await ensureTestImage();
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
  const config = testConfig(db.url, prefix.prefix);
  reconciler = await startReconciler({ config, logger, pool: db.pool, relayPollMs: 200, healthPort: 0 });
  // A thaw budget and health check timeout far above the targets (BENCHMARKS.md): deadlines, not measurements, on a
  // shared machine whose load average reaches 50+.
  const options = { ...loadDockerOptions({}), instance, concurrency: 6, stopTimeoutSeconds: 0, thawBudgetMs: 60_000 };
  provisioner = await startDockerProvisioner({ config, options, logger, pool: db.pool });
});
after(async () => {
  await provisioner?.close();
  await reconciler?.close();
  await cleanupInstance(instance);
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

const { workspaceBlock, importVersion, newTemplate, eligible } = poolHelpers(() => ({ db, queues, instance, image }));

// An idle load a hot workspace burns (a short busy loop every 100 ms) and a frozen one must not.
const IDLE_LOAD = 'touch /tmp/ready; while true; do i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; sleep 0.1; done';
const HOOK = 'echo "$WARMPOOL_OWNER_NAME thawed=${WARMPOOL_THAWED:-0} frozen_s=${WARMPOOL_FROZEN_SECONDS:-none}" > /tmp/owner';

let templateId: string;
let presetId: string;
const claimed: string[] = [];

const prebuildContainers = async (): Promise<Docker.ContainerInfo[]> =>
  (await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.preset}=${presetId}`] } })).filter(
    (c) => !claimed.includes(c.Labels[LABEL.workspace]!),
  );

/**
 * Waits until the preset has exactly `hot + frozen` eligible prebuilds and as many containers: `frozen` of them
 * paused (the engine's State.Paused) and recorded frozen in the database, the other `hot` running and healthy.
 */
async function convergedTiers(hot: number, frozen: number, what: string): Promise<{ hot: string[]; frozen: string[] }> {
  let seen = '';
  return waitFor(
    async () => {
      const ids = await eligible(presetId);
      const containers = await prebuildContainers();
      const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM workspaces WHERE id = ANY($1) AND frozen_at IS NOT NULL ORDER BY id', [ids]);
      // Settled: no freeze or thaw asked for and not yet confirmed.
      const inFlight = `SELECT count(*)::int AS n FROM workspaces WHERE id = ANY($1) AND standby_want IS NOT NULL AND (standby_want = 'frozen') <> (frozen_at IS NOT NULL)`;
      const { rows: pending } = await db.pool.query<{ n: number }>(inFlight, [ids]);
      const paused = containers.filter((c) => c.State === 'paused').map((c) => c.Labels[LABEL.workspace]!).sort();
      const running = containers.filter((c) => c.State === 'running' && /\(healthy\)/.test(c.Status)).map((c) => c.Labels[LABEL.workspace]!).sort();
      seen = JSON.stringify({ eligible: ids, frozenInDb: rows.map((r) => r.id), containers: containers.map((c) => [c.Labels[LABEL.workspace], c.State, c.Status]) });
      const ok =
        ids.length === hot + frozen &&
        pending[0]!.n === 0 &&
        containers.length === hot + frozen &&
        paused.length === frozen &&
        running.length === hot &&
        JSON.stringify(rows.map((r) => r.id)) === JSON.stringify(paused) &&
        [...paused, ...running].every((id) => ids.includes(id));
      return ok ? { hot: running, frozen: paused } : undefined;
    },
    { timeoutMs: TIMEOUT, what },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen ${seen}`);
  });
}

/** Nanoseconds of CPU a container used, from the engine's stats. */
async function cpuNanos(id: string): Promise<number> {
  const stats = (await docker.getContainer(id).stats({ stream: false })) as { cpu_stats: { cpu_usage: { total_usage: number } }; memory_stats: { usage?: number } };
  return stats.cpu_stats.cpu_usage.total_usage;
}

test('the Docker provisioner declares the freeze capability', async () => {
  assert.deepEqual(provisioner.kit.capabilities, ['freeze']);
  const row = await waitFor(
    async () => (await db.pool.query<{ capabilities: string[] }>('SELECT capabilities FROM provisioners WHERE identity = $1', [`docker-${instance}`])).rows[0],
    { timeoutMs: TIMEOUT, what: 'provisioner-seen recorded' },
  );
  assert.deepEqual(row.capabilities, ['freeze']);
});

test('a preset of 1 hot + 3 frozen converges to exactly that (docker ps, State.Paused)', async () => {
  templateId = await newTemplate();
  const healthcheck = { command: ['test', '-f', '/tmp/ready'], interval_seconds: 0.5, retries: 3, timeout_seconds: 20 };
  const block = workspaceBlock({ command: ['sh', '-c', IDLE_LOAD], claim_hook: { command: ['sh', '-c', HOOK] }, healthcheck });
  presetId = await importVersion(templateId, 'v1', 4, block, { standby: { hot: 1 } });
  const tiers = await convergedTiers(1, 3, '1 hot + 3 frozen');
  for (const id of tiers.frozen) assert.equal((await docker.getContainer(`warmpool-${id}`).inspect()).State.Paused, true);
  assert.equal((await docker.getContainer(`warmpool-${tiers.hot[0]}`).inspect()).State.Paused, false);
  // The oldest prebuild is the hot one (claims take the oldest; the newest are frozen).
  const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM workspaces WHERE id = ANY($1) ORDER BY created_at, id LIMIT 1', [[...tiers.hot, ...tiers.frozen]]);
  assert.equal(rows[0]!.id, tiers.hot[0]);
});

test('frozen containers use about no CPU over 10 s while the hot one runs its idle load (engine stats)', async (t) => {
  const tiers = await convergedTiers(1, 3, '1 hot + 3 frozen');
  const ids = [...tiers.hot, ...tiers.frozen].map((id) => `warmpool-${id}`);
  const before = await Promise.all(ids.map(cpuNanos));
  // A measurement window, not a wait for a condition: CPU is compared over the same 10 s.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const used = (await Promise.all(ids.map(cpuNanos))).map((n, i) => n - before[i]!);
  const [hot, ...frozen] = used;
  t.diagnostic(`CPU over 10 s: hot ${(hot! / 1e6).toFixed(1)} ms, frozen ${frozen.map((n) => (n / 1e6).toFixed(1)).join(', ')} ms (2-core shared machine)`);
  assert.ok(hot! > 0, 'the hot container ran its idle load');
  for (const n of frozen) assert.ok(n <= 0.05 * hot!, `a frozen container used ${n} ns of CPU against ${hot} ns hot`);
});

test('a burst of 4 claims gets 1 hot and 3 thawed prebuilds, all usable; the pool refills to 1 hot + 3 frozen', async (t) => {
  const tiers = await convergedTiers(1, 3, '1 hot + 3 frozen');
  const { rows: version } = await db.pool.query<{ id: string }>('SELECT template_version_id AS id FROM presets WHERE id = $1', [presetId]);
  const users = await Promise.all(['ann', 'bob', 'cid', 'dan'].map(async (name) => ({ name, id: (await ensureUser(db.pool, name))! })));
  const claims = await Promise.all(
    users.map((u) => claimPrebuild(db.pool, { presetId, userId: u.id, name: `${u.name}-dev`, priority: 1, templateId, versionId: version[0]!.id })),
  );
  await enqueueReconcile(queues.reconcile, presetId, 'claim');
  const done = claims.flatMap((c) => (c.outcome === 'claimed' ? [c] : []));
  claimed.push(...done.map((c) => c.workspaceId));
  assert.equal(done.length, 4, 'four claims');
  assert.deepEqual(done.map((c) => c.source).sort(), ['hot', 'thawed', 'thawed', 'thawed']);
  assert.equal(done.find((c) => c.source === 'hot')!.workspaceId, tiers.hot[0], 'the hot prebuild went first');
  assert.deepEqual(done.filter((c) => c.source === 'thawed').map((c) => c.workspaceId).sort(), tiers.frozen);

  const builds = `SELECT b.id, b.job_status, extract(epoch FROM b.completed_at - b.started_at) * 1000 AS ms,
                         bool_and(a.ready) AS ready
                  FROM builds b LEFT JOIN agents a ON a.build_id = b.id WHERE b.id = ANY($1) GROUP BY b.id`;
  const finished = await waitFor(
    async () => {
      const { rows } = await db.pool.query<{ job_status: string; ms: number; ready: boolean | null }>(builds, [done.map((c) => c.buildId)]);
      return rows.length === 4 && rows.every((r) => r.job_status === 'succeeded' && r.ready === true) ? rows : undefined;
    },
    { timeoutMs: TIMEOUT, what: 'four claim builds succeeded with their agents ready' },
  );
  t.diagnostic(`claim builds took ${finished.map((r) => Math.round(r.ms)).join(', ')} ms (provisioner side, 2-core shared machine)`);
  for (const c of done) {
    const info = await docker.getContainer(`warmpool-${c.workspaceId}`).inspect();
    assert.equal(info.State.Paused, false, 'claimed workspaces run');
    const out = await execOut(info.Id, ['cat', '/tmp/owner']);
    if (c.source === 'thawed') assert.match(out, /thawed=1 frozen_s=\d+/, 'the hook was told about the thaw');
    else assert.match(out, /thawed=0 frozen_s=none/);
  }
  const { rows: cleared } = await db.pool.query('SELECT id FROM workspaces WHERE id = ANY($1) AND (frozen_at IS NOT NULL OR standby_want IS NOT NULL)', [claimed]);
  assert.deepEqual(cleared, [], 'claimed workspaces have no tier');
  // Builds refill the total; the oldest new prebuild runs hot, the rest freeze.
  const refilled = await convergedTiers(1, 3, 'refilled to 1 hot + 3 frozen');
  assert.ok([...refilled.hot, ...refilled.frozen].every((id) => !claimed.includes(id)));
});

test('a claim of the hot prebuild is refilled by thawing a frozen one (no build needed)', async () => {
  const tiers = await convergedTiers(1, 3, '1 hot + 3 frozen');
  const { rows: version } = await db.pool.query<{ id: string }>('SELECT template_version_id AS id FROM presets WHERE id = $1', [presetId]);
  const user = (await ensureUser(db.pool, 'eve'))!;
  const claim = await claimPrebuild(db.pool, { presetId, userId: user, name: 'eve-dev', priority: 1, templateId, versionId: version[0]!.id });
  assert.ok(claim.outcome === 'claimed');
  claimed.push(claim.workspaceId);
  assert.ok(claim.source === 'hot' && claim.workspaceId === tiers.hot[0], `claimed the hot prebuild: ${JSON.stringify({ claim: claim.workspaceId, source: claim.source, tiers })}`);
  await enqueueReconcile(queues.reconcile, presetId, 'claim');
  // The oldest frozen one is thawed into the hot tier; a build replaces the claimed one and freezes.
  const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM workspaces WHERE id = ANY($1) ORDER BY created_at, id LIMIT 1', [tiers.frozen]);
  const after = await convergedTiers(1, 3, 'refilled after a hot claim');
  assert.deepEqual(after.hot, [rows[0]!.id], 'the oldest frozen prebuild was thawed');
});

test('drift: docker unpause, docker pause and docker kill from outside are healed', async () => {
  const tiers = await convergedTiers(1, 3, '1 hot + 3 frozen');
  const [unpaused, killed] = tiers.frozen;
  await docker.getContainer(`warmpool-${unpaused}`).unpause();
  // The outside actor retries as a person would: the engine's freezer now and then answers "unable to freeze".
  for (let attempt = 1; ; attempt++) {
    try {
      await docker.getContainer(`warmpool-${tiers.hot[0]}`).pause();
      break;
    } catch (err) {
      if (attempt >= 5 || !/unable to freeze/.test(String(err))) throw err;
    }
  }
  await docker.getContainer(`warmpool-${killed}`).kill();
  const healed = await convergedTiers(1, 3, 'healed after unpause, pause and kill');
  assert.deepEqual(healed.hot, tiers.hot, 'the hot prebuild paused from outside runs again');
  assert.ok(healed.frozen.includes(unpaused!), 'the frozen prebuild unpaused from outside is frozen again');
  assert.ok(!healed.frozen.includes(killed!), 'the killed one was replaced');
});

test('deleting a frozen prebuild removes its paused container (invalidation)', async () => {
  const tiers = await convergedTiers(1, 3, '1 hot + 3 frozen');
  await db.pool.query('UPDATE presets SET invalidated_at = now() WHERE id = $1', [presetId]);
  await enqueueReconcile(queues.reconcile, presetId, 'test');
  const replaced = await convergedTiers(1, 3, 'replaced after invalidation');
  for (const id of [...tiers.hot, ...tiers.frozen]) {
    assert.ok(![...replaced.hot, ...replaced.frozen].includes(id));
    await assert.rejects(docker.getContainer(`warmpool-${id}`).inspect(), /no such container/i);
  }
});

async function execOut(containerId: string, cmd: string[]): Promise<string> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  return new Promise<string>((resolve, reject) => {
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}
