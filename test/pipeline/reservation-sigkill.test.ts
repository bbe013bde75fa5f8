import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createQueueSet, createRedis, enqueueReconcile, type QueueSet } from '@warmpool/bus';
import { reservePrebuild } from '@warmpool/db';
import { loadSimOptions, startProvisionerSim, type ProvisionerSim } from '@warmpool/provisioner-sim';
import { createLogger } from '@warmpool/runtime';
import { userWithRole } from '../support/api.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { spawnService } from '../support/processes.js';
import { seedPresets } from '../support/seed.js';
import { waitFor } from '../support/wait.js';

// A reconciler SIGKILLed while reservations are pending (BEHAVIOUR.md §5.1): their state is in PostgreSQL and the
// results that complete them wait in the queue, so the next reconciler finishes every one, once.
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
let sim: ProvisionerSim;
const children: ChildProcess[] = [];

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
  const logger = createLogger('test', { level: 'silent' });
  sim = startProvisionerSim({ config: testConfig(db.url, prefix.prefix), sim: { ...loadSimOptions({}), buildMs: 2_000, jitterMs: 0, agentReadyMs: 300 }, logger });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sim?.close();
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

function spawnReconciler(): ChildProcess {
  const child = spawnService('reconciler', { DATABASE_URL: db.url, REDIS_URL, WARMPOOL_QUEUE_PREFIX: prefix.prefix, LOG_LEVEL: 'silent' }, ['ignore', 'ignore', 'inherit']);
  children.push(child);
  return child;
}

const states = async (ids: string[]) =>
  (await db.pool.query<{ state: string }>('SELECT state FROM workspace_claims WHERE workspace_id = ANY($1)', [ids])).rows.map((r) => r.state);

test('reconciler SIGKILL while reservations are pending: every reserved workspace becomes usable, with one claim build each', async (t) => {
  const [p] = await seedPresets(db.pool, [{ instances: 4, parameters: {} }]);
  const { userId } = await userWithRole(db.pool, 'member', p!.organizationId);
  const first = spawnReconciler();
  await enqueueReconcile(queues.reconcile, p!.presetId, 'test');
  const inflight = await waitFor(
    async () => {
      const { rows } = await db.pool.query<{ id: string }>(
        `SELECT id FROM prebuild_workspaces WHERE preset_id = $1 AND reason = 'prebuild-create' AND job_status IN ('pending', 'running')`,
        [p!.presetId],
      );
      return rows.length === 4 ? rows.map((r) => r.id) : undefined;
    },
    { timeoutMs: 30_000, what: '4 creates in flight' },
  );
  for (const [i, id] of inflight.entries()) {
    const r = await reservePrebuild(db.pool, { candidates: [{ workspaceId: id, predictedMs: 2_000 }], presetId: p!.presetId, userId, name: `r${i}`, templateId: p!.templateId, versionId: p!.versionId, mode: 'prefer', budgetMs: 60_000 });
    assert.equal(r.outcome, 'reserved');
  }
  // Killed once the first reservation moved on (its claim build requested): the others are mid-way.
  await waitFor(async () => (await states(inflight)).some((s) => s !== 'waiting'), { timeoutMs: 30_000, what: 'a reservation completing' });
  first.kill('SIGKILL');
  await once(first, 'exit');
  t.diagnostic(`at SIGKILL: ${(await states(inflight)).join(', ')}`);
  const second = spawnReconciler();
  await waitFor(async () => (await states(inflight)).every((s) => s === 'usable'), { timeoutMs: 60_000, what: 'every reservation usable after the restart' });
  const { rows } = await db.pool.query<{ claim_builds: number; source: string }>(
    `SELECT (SELECT count(*)::int FROM builds b WHERE b.workspace_id = c.workspace_id AND b.reason = 'claim') AS claim_builds, c.source
     FROM workspace_claims c WHERE c.workspace_id = ANY($1)`,
    [inflight],
  );
  assert.deepEqual(rows.map((r) => [r.claim_builds, r.source]), inflight.map(() => [1, 'reserved']));
  second.kill('SIGTERM');
  await once(second, 'exit');
});
