import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueSet, createRedis, enqueueReconcile, type QueueSet } from '@warmpool/bus';
import { claimPrebuild, ensureUser } from '@warmpool/db';
import { LABEL, loadDockerOptions, startDockerProvisioner, type DockerProvisioner } from '@warmpool/provisioner-docker';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { cleanupInstance, docker, ensureTestImage, instanceContainers, testInstance } from '../support/docker.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { poolHelpers, POOL_TIMEOUT_MS as TIMEOUT } from '../support/docker-pool.js';
import { waitFor } from '../support/wait.js';

// The whole loop on a real Docker Engine: reconciler (with its results worker) + the Docker provisioner, real
// Redis and PostgreSQL, a locally imported busybox image, and a per-run instance label for every container.
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let reconciler: Reconciler;
let provisioner: DockerProvisioner;
let queues: QueueSet;
let image: string;
const redis = createRedis(REDIS_URL, { role: 'producer' });
const instance = testInstance();
const logger = createLogger('test', { level: process.env.WARMPOOL_TEST_LOG ?? 'silent' });
let config: ReturnType<typeof testConfig>;

before(async () => {
  image = await ensureTestImage();
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
  config = testConfig(db.url, prefix.prefix, { WARMPOOL_BACKOFF_INTERVAL_MS: '1000', WARMPOOL_FAILURE_HARD_LIMIT: '3' });
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

const { workspaceBlock, importVersion, newTemplate, healthy, eligible, converged } = poolHelpers(() => ({ db, queues, instance, image }));

// One pool walks through the scenarios in order (node runs a file's tests one after the other).
let templateId: string;
let presetId: string;
let claimed: { workspaceId: string; buildId: string };
let v2: string;

test('a preset of 3 converges to exactly 3 healthy labelled containers', async () => {
  templateId = await newTemplate();
  presetId = await importVersion(templateId, 'v1', 3, workspaceBlock());
  const ids = await converged(presetId, 3, '3 healthy containers');
  const info = await docker.getContainer(`warmpool-${ids[0]}`).inspect();
  assert.equal(info.Config.Labels[LABEL.workspace], ids[0]);
  assert.equal(info.Config.Labels[LABEL.preset], presetId);
  assert.equal(info.Config.Labels[LABEL.template], templateId);
  assert.ok(info.Config.Labels[LABEL.organization] && info.Config.Labels[LABEL.version]);
  assert.equal(info.Config.Labels.team, 'e2e');
  assert.ok(info.Config.Env.includes('REGION=eu'), 'build parameters substituted');
  assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
  assert.ok(info.Mounts.some((m) => m.Name === `warmpool-${ids[0]}` && m.Destination === '/workspace'));
});

test('a claim keeps its container, runs the hook, and the pool refills', async () => {

  const user = (await ensureUser(db.pool, 'alice'))!;
  const { rows: version } = await db.pool.query<{ id: string }>('SELECT template_version_id AS id FROM presets WHERE id = $1', [presetId]);
  const claim = await claimPrebuild(db.pool, { presetId, userId: user, name: 'alice-dev', priority: 1, templateId, versionId: version[0]!.id });
  assert.ok(claim.outcome === 'claimed');
  claimed = claim;
  await enqueueReconcile(queues.reconcile, presetId, 'claim');
  const before = await docker.getContainer(`warmpool-${claimed.workspaceId}`).inspect();
  await waitFor(async () => (await db.pool.query(`SELECT job_status FROM builds WHERE id = $1`, [claimed.buildId])).rows[0]?.job_status === 'succeeded', {
    timeoutMs: TIMEOUT,
    what: 'claim build done',
  });
  const after = await docker.getContainer(`warmpool-${claimed.workspaceId}`).inspect();
  assert.equal(after.Id, before.Id, 'the same container');
  const { rows } = await db.pool.query(`SELECT replacements FROM builds WHERE id = $1`, [claimed.buildId]);
  assert.equal(rows[0].replacements, null, 'nothing recreated, nothing reported');
  const exec = await docker.getContainer(after.Id).exec({ Cmd: ['cat', '/tmp/owner'], AttachStdout: true });
  const out = await new Promise<string>((resolve, reject) => {
    void exec.start({}).then((stream) => {
      let text = '';
      stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
    }, reject);
  });
  assert.match(out, new RegExp(`alice ${user}`), 'the hook saw the new owner');
  // The pool refills to 3 prebuilds beside the claimed workspace.
  const refilled = await converged(presetId, 3, 'refilled after claim', [claimed.workspaceId]);
  assert.ok(!refilled.includes(claimed.workspaceId));
});

test('drift: a killed and a removed prebuild container are reported, stop being eligible, and are replaced', async (t) => {
  const [killed, removed] = await eligible(presetId);
  const t0 = Date.now();
  await docker.getContainer(`warmpool-${killed}`).kill();
  await docker.getContainer(`warmpool-${removed}`).remove({ force: true });
  const healed = await converged(presetId, 3, 'healed after kill and rm -f', [claimed.workspaceId]);
  t.diagnostic(`healed in ${Date.now() - t0} ms`);
  assert.ok(!healed.includes(killed!) && !healed.includes(removed!), 'replaced by new workspaces');
  const gone = `SELECT count(*)::int AS n FROM workspaces WHERE id = ANY($1) AND deleted`;
  await waitFor(async () => (await db.pool.query(gone, [[killed, removed]])).rows[0].n === 2, { timeoutMs: TIMEOUT, what: 'lost workspaces deleted' });

  // The claimed workspace was never touched.
  assert.equal((await docker.getContainer(`warmpool-${claimed.workspaceId}`).inspect()).State.Running, true);

});

test('a new active version and TTL expiry replace the containers', async () => {
  v2 = await importVersion(templateId, 'v2', 2, workspaceBlock({ labels: { team: 'e2e', generation: '2' } }));
  await converged(v2, 2, 'v2 containers');
  await waitFor(async () => (await healthy(presetId)).length === 1 && (await eligible(presetId)).length === 0, { timeoutMs: TIMEOUT, what: 'v1 prebuilds gone' });
  const v2Containers = await healthy(v2);
  assert.ok(v2Containers.every((c) => c.Labels.generation === '2'));

  // TTL expiry (shortened in the database: the manifest only allows ≥ 1 h) replaces them too. The TTL stays short
  // only until the reconciler has asked to delete the old prebuilds, so slow replacements cannot expire in turn.
  const first = v2Containers.map((c) => c.Labels[LABEL.workspace]);
  const age = `SELECT min(extract(epoch FROM now() - created_at))::float AS s FROM workspaces WHERE id = ANY($1)`;
  await waitFor(async () => (await db.pool.query<{ s: number }>(age, [first])).rows[0]!.s > 2, { timeoutMs: TIMEOUT, intervalMs: 200, what: 'prebuilds 2 s old' });
  await db.pool.query('UPDATE presets SET ttl_seconds = 1 WHERE id = $1', [v2]);
  const deleting = `SELECT count(*)::int AS n FROM workspace_latest_builds WHERE id = ANY($1) AND (deleted OR transition = 'delete')`;
  await waitFor(async () => {
    await enqueueReconcile(queues.reconcile, v2, 'test');
    return (await db.pool.query<{ n: number }>(deleting, [first])).rows[0]!.n === first.length;
  }, { timeoutMs: TIMEOUT, intervalMs: 500, what: 'expired prebuilds being deleted' });
  await db.pool.query('UPDATE presets SET ttl_seconds = NULL WHERE id = $1', [v2]);
  await enqueueReconcile(queues.reconcile, v2, 'test');
  const replaced = await converged(v2, 2, 'v2 after ttl');
  assert.ok(replaced.every((id) => !first.includes(id)), 'new containers replaced the expired ones');
});

test('a missing image ends in the failure limit with one notification and leaves no container', async () => {
  const templateId = await newTemplate();
  const presetId = await importVersion(templateId, 'v1', 2, workspaceBlock({ image: 'warmpool-no-such-image:1' }));
  await waitFor(async () => (await db.pool.query('SELECT status FROM presets WHERE id = $1', [presetId])).rows[0]?.status === 'hard_limited', {
    timeoutMs: TIMEOUT,
    what: 'hard limited',
  });
  const { rows } = await db.pool.query(
    `SELECT b.error, b.retryable FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.preset_id = $1 AND b.job_status = 'failed'`,
    [presetId],
  );
  assert.ok(rows.length >= 3);
  assert.match(rows[0].error, /No such image: warmpool-no-such-image:1/);
  assert.equal(rows[0].retryable, false);
  const events = await db.pool.query(`SELECT count(*)::int AS n FROM outbox WHERE queue = 'notifications' AND payload->>'presetId' = $1`, [presetId]);
  assert.equal(events.rows[0].n, 1, 'one notification');
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.preset}=${presetId}`] } });
  assert.equal(left.length, 0);
});

test('a workspace asking for more than the operator maximum fails its builds naming the variable, and runs nothing', async () => {
  const templateId = await newTemplate();
  const presetId = await importVersion(templateId, 'v1', 1, workspaceBlock({ resources: { cpus: 5, memory: '64m' } }));
  const failed = await waitFor(
    async () => {
      const { rows } = await db.pool.query<{ error: string; retryable: boolean }>(
        `SELECT b.error, b.retryable FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.preset_id = $1 AND b.job_status = 'failed'`,
        [presetId],
      );
      return rows[0];
    },
    { timeoutMs: TIMEOUT, what: 'a failed build of the over-ceiling preset' },
  );
  assert.match(failed.error, /asks for 5 CPUs; this provisioner allows at most 4 \(DOCKER_PROVISIONER_MAX_CPUS\)/);
  assert.equal(failed.retryable, false);
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`, `${LABEL.preset}=${presetId}`] } });
  assert.equal(left.length, 0);
});

test('malformed build requests are refused without crashing the provisioner', async () => {
  await queues.buildRequests.add('build-requested', { buildId: 'nope' }, { jobId: 'malformed-1' });
  await waitFor(async () => (await queues.buildRequests.getJobState('malformed-1')) === 'failed', { what: 'refused' });
  const job = await queues.buildRequests.getJob('malformed-1');
  assert.equal(job?.attemptsMade, 1);
  assert.equal((await provisioner.health()).ok, true);
  assert.equal((await instanceContainers(instance)).every((c) => c.Labels[LABEL.instance] === instance), true);
});
