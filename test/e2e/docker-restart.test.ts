import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createQueueSet, createRedis, type QueueSet } from '@warmpool/bus';
import { LABEL } from '@warmpool/provisioner-docker';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { cleanupInstance, docker, ensureTestImage, instanceContainers, testInstance } from '../support/docker.js';
import { poolHelpers, POOL_TIMEOUT_MS } from '../support/docker-pool.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { spawnService } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

// The Docker provisioner as its own process, SIGKILLed mid-build and started again: no duplicate, no orphan, and
// containers it did not label are never touched.
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let reconciler: Reconciler;
let queues: QueueSet;
let image: string;
const redis = createRedis(REDIS_URL, { role: 'producer' });
const instance = testInstance();
const strangerName = `stranger-${instance}`;
const logger = createLogger('test', { level: 'silent' });
const children = new Set<ChildProcess>();
const { workspaceBlock, importVersion, newTemplate, eligible, converged } = poolHelpers(() => ({ db, queues, instance, image }));

before(async () => {
  image = await ensureTestImage();
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
  reconciler = await startReconciler({ config: testConfig(db.url, prefix.prefix), logger, pool: db.pool, relayPollMs: 200, healthPort: 0 });
});
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await reconciler?.close();
  await cleanupInstance(instance);
  await docker.getContainer(strangerName).remove({ force: true }).catch(() => undefined);
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

/** The provisioner's own entry point, from source, with this file's database, queues and instance label. */
function startProvisionerProcess(): ChildProcess {
  const child = spawnService('provisioner-docker', {
    DATABASE_URL: db.url,
    REDIS_URL,
    WARMPOOL_QUEUE_PREFIX: prefix.prefix,
    DOCKER_PROVISIONER_INSTANCE: instance,
    DOCKER_PROVISIONER_LOCK_MS: '2000',
    DOCKER_PROVISIONER_CONCURRENCY: '2',
    LOG_LEVEL: 'silent',
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

test('SIGKILL mid-build, then restart: exactly the desired containers, orphans removed, strangers untouched', async () => {
  // A container Warmpool did not label, and one labelled by this instance for a workspace that does not exist.
  await docker.createContainer({ name: strangerName, Image: image, Cmd: ['sleep', '3600'], Labels: { 'warmpool.workspace': randomUUID() } }).then((c) => c.start());
  const orphanWorkspace = randomUUID();
  await docker
    .createContainer({ name: `warmpool-${orphanWorkspace}`, Image: image, Cmd: ['sleep', '3600'], Labels: { [LABEL.instance]: instance, [LABEL.workspace]: orphanWorkspace } })
    .then((c) => c.start());

  const first = startProvisionerProcess();
  const templateId = await newTemplate();
  // Slow to become healthy, so the kill lands while builds are in flight.
  const presetId = await importVersion(templateId, 'v1', 4, workspaceBlock({ command: ['sh', '-c', 'sleep 1; touch /tmp/ready; exec sleep 3600'] }));
  await waitFor(async () => (await instanceContainers(instance)).some((c) => c.Labels[LABEL.preset] === presetId), { timeoutMs: POOL_TIMEOUT_MS, what: 'a container created' });
  assert.ok((await eligible(presetId)).length < 4, 'killed mid-build');
  first.kill('SIGKILL');
  await once(first, 'exit');

  startProvisionerProcess();
  const ids = await converged(presetId, 4, '4 healthy containers after restart');
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM workspaces WHERE preset_id = $1 AND NOT deleted', [presetId]);
  assert.equal(rows[0]!.n, 4, 'no duplicate workspace');
  const mine = await instanceContainers(instance);
  assert.deepEqual(mine.map((c) => c.Labels[LABEL.workspace]).sort(), ids, 'no duplicate or orphan container');
  assert.equal((await docker.getContainer(strangerName).inspect()).State.Running, true, 'an unlabelled container is never touched');
});

test('pending prebuild builds of a version that became inactive are canceled, never built, never failures', async () => {
  // No provisioner runs: v1's builds wait in the queue while v2 becomes active.
  for (const child of children) child.kill('SIGKILL');
  await Promise.all([...children].map((child) => once(child, 'exit')));
  const templateId = await newTemplate();
  const v1 = await importVersion(templateId, 'v1', 3, workspaceBlock());
  await waitFor(async () => (await db.pool.query(`SELECT count(*)::int AS n FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.preset_id = $1`, [v1])).rows[0].n === 3, {
    timeoutMs: POOL_TIMEOUT_MS,
    what: 'v1 builds requested',
  });
  const v2 = await importVersion(templateId, 'v2', 2, workspaceBlock());
  startProvisionerProcess();
  await converged(v2, 2, 'v2 converged');
  // A v1 request deferred from the create slot may still wait in the queue: it is canceled when it is taken.
  await waitFor(
    async () =>
      (await db.pool.query(`SELECT count(*)::int AS n FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.preset_id = $1 AND b.job_status IN ('pending', 'running')`, [v1])).rows[0].n === 0,
    { timeoutMs: POOL_TIMEOUT_MS, what: 'every v1 build settled' },
  );
  const { rows } = await db.pool.query<{ job_status: string; deleted: boolean }>(
    `SELECT b.job_status, w.deleted FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.preset_id = $1`,
    [v1],
  );
  assert.deepEqual(rows.map((r) => [r.job_status, r.deleted]), [['canceled', true], ['canceled', true], ['canceled', true]]);
  assert.equal((await instanceContainers(instance)).filter((c) => c.Labels[LABEL.preset] === v1).length, 0, 'nothing was built for v1');
  const failed = await db.pool.query(`SELECT count(*)::int AS n FROM preset_counters WHERE preset_id = $1 AND name = 'failed'`, [v1]);
  assert.equal(failed.rows[0]?.n ?? 0, 0);
});
