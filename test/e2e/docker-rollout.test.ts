import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueSet, createRedis, enqueueReconciles, type QueueSet } from '@warmpool/bus';
import { validateManifest, type Manifest } from '@warmpool/core';
import { claimPrebuild, ensureUser, importTemplateVersion, insertRollout, withTransaction } from '@warmpool/db';
import { LABEL, loadDockerOptions, startDockerProvisioner, type DockerProvisioner } from '@warmpool/provisioner-docker';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { cleanupInstance, docker, ensureTestImage, testInstance } from '../support/docker.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { POOL_TIMEOUT_MS as TIMEOUT } from '../support/docker-pool.js';
import { seedOrganization, seedTemplate } from '../support/seed.js';
import { waitFor } from '../support/wait.js';

// Staged rollouts on a real Docker Engine (issue 23): a client claims about one workspace per second while a new
// version is activated at once (it misses) and then rolled out staged (it must not); a version whose image never
// gets healthy stops at its deadline. Containers get healthy 2 s after start, so a cold pool is visible.
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let reconciler: Reconciler;
let provisioner: DockerProvisioner;
let queues: QueueSet;
let image: string;
const redis = createRedis(REDIS_URL, { role: 'producer' });
const instance = testInstance();
const logger = createLogger('test', { level: process.env.WARMPOOL_TEST_LOG ?? 'silent' });
const DESIRED = 4;
const SURGE = 2;

before(async () => {
  image = await ensureTestImage();
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
  const config = testConfig(db.url, prefix.prefix, { WARMPOOL_BACKOFF_INTERVAL_MS: '1000', WARMPOOL_FAILURE_HARD_LIMIT: '3' });
  reconciler = await startReconciler({ config, logger, pool: db.pool, relayPollMs: 200, healthPort: 0 });
  provisioner = await startDockerProvisioner({ config, options: { ...loadDockerOptions({}), instance, concurrency: 6, stopTimeoutSeconds: 0 }, logger, pool: db.pool });
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

const workspace = (ready: string) => ({
  image,
  command: ['sh', '-c', `${ready}; exec sleep 3600`],
  resources: { memory: '32m', cpus: 0.25 },
  healthcheck: { command: ['test', '-f', '/tmp/ready'], interval_seconds: 0.2, retries: 3 },
});
const WARMS_IN_2S = () => workspace('sleep 2; touch /tmp/ready');
const NEVER_HEALTHY = () => workspace('true');

/**
 * Imports a version as the API would (one transaction), active at once or staged. Staged here may use a deadline
 * below the API's minimum of 60 s, so the deadline test stays short: the same insertRollout, without the API's range.
 */
async function importVersion(templateId: string, name: string, block: object, how: { activate: true } | { deadlineSeconds: number }) {
  const validation = validateManifest({ name, parameters: [], presets: [{ name: 'dev', prebuilds: { instances: DESIRED } }], workspace: block });
  assert.equal(validation.ok, true, JSON.stringify(validation));
  const manifest = (validation as { value: Manifest }).value;
  const imported = await withTransaction(db.pool, async (client) => {
    const stored = await importTemplateVersion(client, { templateId, manifest, createdBy: null, activate: 'activate' in how });
    const rollout =
      'deadlineSeconds' in how
        ? await insertRollout(client, { templateId, versionId: stored.versionId, surge: String(SURGE), surgeBuilds: SURGE, deadlineSeconds: how.deadlineSeconds, createdBy: null })
        : null;
    return { ...stored, rollout };
  });
  await enqueueReconciles(queues.reconcile, [...imported.presetIds, ...imported.affectedPresetIds], 'test');
  return { versionId: imported.versionId, presetId: imported.presetIds[0]!, rolloutId: imported.rollout?.id ?? null };
}

const presetContainers = (presetId: string) => docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.preset}=${presetId}`] } });
const eligible = async (presetId: string) => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM running_prebuilds WHERE preset_id = $1 AND eligible', [presetId])).rows[0]!.n;
const rolloutState = async (id: string) => (await db.pool.query<{ state: string; ended_at: Date | null }>('SELECT state, ended_at FROM template_rollouts WHERE id = $1', [id])).rows[0]!;

type Claim = { at: number; version: string | null };
let claimNumber = 0;

/**
 * The claim interval: one per second, or slower when this machine cannot refill the pool that fast (a loaded shared
 * machine can take many seconds per container). A pool of DESIRED refilled in `usableMs` sustains a claim every
 * usableMs / (DESIRED - 1) ms without any rollout, so every miss measured at that rate comes from the rollout.
 */
let claimEveryMs = 1000;

/** Request-to-usable times (ms) of a preset's prebuilds: the workspace row to its agent ready. */
async function usableTimes(presetId: string): Promise<number[]> {
  const { rows } = await db.pool.query<{ ms: number }>(
    `SELECT (extract(epoch FROM a.ready_at - w.created_at) * 1000)::int AS ms
     FROM workspaces w JOIN builds b ON b.workspace_id = w.id AND b.build_number = 1 JOIN agents a ON a.build_id = b.id AND a.ready
     WHERE w.preset_id = $1`,
    [presetId],
  );
  return rows.map((r) => r.ms);
}

/** Claims on the template's active version every claimEveryMs until stopped: a claim that finds nothing is a miss. */
function claimLoop(templateId: string, userId: string) {
  const claims: Claim[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const started = Date.now();
      const { rows } = await db.pool.query<{ version: string; preset: string }>(
        `SELECT t.active_version_id AS version, p.id AS preset FROM templates t JOIN presets p ON p.template_version_id = t.active_version_id WHERE t.id = $1`,
        [templateId],
      );
      const target = rows[0];
      if (!target) throw new Error('the template has no active version');
      const outcome = await claimPrebuild(db.pool, { presetId: target.preset, userId, name: `c${claimNumber++}`, priority: 1, templateId, versionId: target.version });
      if (outcome.outcome !== 'stale') claims.push({ at: started, version: outcome.outcome === 'claimed' ? outcome.workspace.template_version_id : null });
      await enqueueReconciles(queues.reconcile, [target.preset], 'claim');
      // The load profile, not a wait for a condition: one claim per interval.
      await new Promise((r) => setTimeout(r, Math.max(0, claimEveryMs - (Date.now() - started))));
    }
  })();
  return { claims, stop: async () => ((running = false), await done) };
}

let templateId: string;
let userId: string;
let current: { versionId: string; presetId: string };

test('immediate activation misses while the new pool builds', async (t) => {
  templateId = await seedTemplate(db.pool, await seedOrganization(db.pool));
  userId = (await ensureUser(db.pool, 'claimer'))!;
  const v1 = await importVersion(templateId, 'v1', WARMS_IN_2S(), { activate: true });
  await waitFor(async () => (await eligible(v1.presetId)) === DESIRED, { timeoutMs: TIMEOUT, what: 'v1 warm' });
  const usable = Math.max(...(await usableTimes(v1.presetId)));
  claimEveryMs = Math.max(1000, Math.ceil((usable * 1.5) / (DESIRED - 1)));
  t.diagnostic(`v1 prebuilds usable in at most ${usable} ms on this machine (shared, loaded): claiming every ${claimEveryMs} ms`);

  const client = claimLoop(templateId, userId);
  try {
    const v2 = await importVersion(templateId, 'v2', WARMS_IN_2S(), { activate: true });
    await waitFor(() => client.claims.some((c) => c.version === v2.versionId), { timeoutMs: TIMEOUT, what: 'a claim served by v2' });
    current = v2;
  } finally {
    await client.stop();
  }
  const misses = client.claims.filter((c) => c.version === null).length;
  t.diagnostic(`immediate activation: ${misses} miss(es) in ${client.claims.length} claims, one every ${claimEveryMs} ms`);
  assert.ok(misses > 0, 'an immediate switch to a cold pool misses');
  await waitFor(async () => (await eligible(current.presetId)) === DESIRED, { timeoutMs: TIMEOUT, what: 'v2 refilled' });
});

test('a staged rollout misses nothing: the old pool serves until promotion, then every claim lands on the new version', async (t) => {
  const old = current;
  const client = claimLoop(templateId, userId);
  const t0 = Date.now();
  let mostStaged = 0;
  let mostInFlight = 0;
  let promotedAt = 0;
  let v3: Awaited<ReturnType<typeof importVersion>>;
  try {
    v3 = await importVersion(templateId, 'v3', WARMS_IN_2S(), { deadlineSeconds: 600 });
    await waitFor(
      async () => {
        const staged = (await presetContainers(v3.presetId)).length;
        const { rows } = await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM prebuild_workspaces WHERE preset_id = $1 AND transition = 'start' AND job_status IN ('pending', 'running')`,
          [v3.presetId],
        );
        mostStaged = Math.max(mostStaged, staged);
        mostInFlight = Math.max(mostInFlight, rows[0]!.n);
        return (await rolloutState(v3.rolloutId!)).state === 'promoted';
      },
      { timeoutMs: TIMEOUT, intervalMs: 200, what: 'the staged rollout promoted' },
    );
    promotedAt = (await rolloutState(v3.rolloutId!)).ended_at!.getTime();
    // Claim on after the promotion for a few more claims.
    await waitFor(() => client.claims.filter((c) => c.at > promotedAt).length >= 4, { timeoutMs: TIMEOUT, what: 'claims after the promotion' });
  } finally {
    await client.stop();
  }
  t.diagnostic(`staged rollout promoted ${promotedAt - t0} ms after the import; at most ${mostStaged} staged container(s), ${mostInFlight} staged build(s) in flight; one claim every ${claimEveryMs} ms`);
  assert.ok(mostStaged <= DESIRED, `staged containers ${mostStaged} ≤ desired ${DESIRED}`);
  assert.ok(mostInFlight <= SURGE, `staged builds in flight ${mostInFlight} ≤ surge ${SURGE}`);

  const misses = client.claims.filter((c) => c.version === null);
  t.diagnostic(`staged rollout: ${misses.length} miss(es) in ${client.claims.length} claims; at ${misses.map((m) => m.at - t0).join(', ')} ms after the import (promoted at ${promotedAt - t0})`);
  assert.equal(misses.length, 0, 'no miss during a staged rollout');
  const before = client.claims.filter((c) => c.at < t0 + 500 || c.at + 1000 < promotedAt);
  assert.ok(before.length > 0 && before.every((c) => c.version === old.versionId), 'the old pool served until promotion');
  const afterPromotion = client.claims.filter((c) => c.at > promotedAt);
  assert.ok(afterPromotion.length > 0 && afterPromotion.every((c) => c.version === v3.versionId), 'claims after promotion land on the new version');

  // Converged: the old version's prebuild containers are gone (claimed workspaces are their users').
  await waitFor(
    async () => {
      const { rows } = await db.pool.query<{ id: string }>(`SELECT id FROM workspaces WHERE preset_id = $1 AND owner_id = $2`, [old.presetId, userId]);
      const claimed = new Set(rows.map((r) => r.id));
      return (await presetContainers(old.presetId)).every((c) => claimed.has(c.Labels[LABEL.workspace]!));
    },
    { timeoutMs: TIMEOUT, what: 'no old-version prebuild container left' },
  );
  current = v3;
});

test('a staged version whose image never gets healthy stops at its deadline: one notice, old pool intact, no staged container', async () => {
  await waitFor(async () => (await eligible(current.presetId)) === DESIRED, { timeoutMs: TIMEOUT, what: 'active pool refilled' });
  const broken = await importVersion(templateId, 'v4-broken', NEVER_HEALTHY(), { deadlineSeconds: 8 });
  await waitFor(async () => (await presetContainers(broken.presetId)).length > 0, { timeoutMs: TIMEOUT, what: 'staged containers started' });
  await waitFor(async () => (await rolloutState(broken.rolloutId!)).state === 'failed', { timeoutMs: TIMEOUT, what: 'the rollout stopped at its deadline' });
  await waitFor(async () => (await presetContainers(broken.presetId)).length === 0, { timeoutMs: TIMEOUT, what: 'no staged container left' });
  const notices = await db.pool.query(`SELECT payload FROM outbox WHERE name = 'rollout-stopped' AND payload->>'rolloutId' = $1`, [broken.rolloutId]);
  assert.equal(notices.rowCount, 1, 'exactly one notice');
  assert.equal(notices.rows[0].payload.reason, 'deadline');
  const { rows } = await db.pool.query('SELECT active_version_id FROM templates WHERE id = $1', [templateId]);
  assert.equal(rows[0].active_version_id, current.versionId, 'the active version untouched');
  assert.equal(await eligible(current.presetId), DESIRED, 'the old pool intact');
});
