import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createQueueSet, createRedis, enqueueReconciles, type QueueSet } from '@warmpool/bus';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { seedPresets } from '../support/seed.js';
import { prebuildCounts } from '../support/fake-provisioner.js';
import { spawnService } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
const children: ChildProcess[] = [];

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

function spawnReconciler(): ChildProcess {
  const child = spawnService(
    'reconciler',
    {
      DATABASE_URL: db.url,
      REDIS_URL,
      WARMPOOL_QUEUE_PREFIX: prefix.prefix,
      WARMPOOL_WORKER_CONCURRENCY: '8',
      WARMPOOL_MAX_INFLIGHT_PREBUILD_BUILDS: '1000',
      // Small batches (each one transaction), so the kill lands between commits.
      WARMPOOL_RECONCILE_BATCH_SIZE: '2',
      LOG_LEVEL: 'silent',
    },
    ['ignore', 'ignore', 'inherit'],
  );
  children.push(child);
  return child;
}

const count = async (sql: string) => (await db.pool.query<{ n: number }>(sql)).rows[0]!.n;

test('a reconciler killed with SIGKILL mid-work loses no build request and duplicates none', async (t) => {
  const seeds = Array.from({ length: 40 }, (_, i) => ({ name: `p${i}`, instances: 3 }));
  const presets = await seedPresets(db.pool, seeds);
  const ids = presets.map((p) => p.presetId);
  await enqueueReconciles(queues.reconcile, ids, 'test');

  const first = spawnReconciler();
  await waitFor(async () => (await count('SELECT count(*)::int AS n FROM builds')) > 0, { timeoutMs: 20_000, intervalMs: 5, what: 'the first builds' });
  first.kill('SIGKILL');
  await once(first, 'exit');
  const buildsAtKill = await count('SELECT count(*)::int AS n FROM builds');
  assert.ok(buildsAtKill < 120, 'killed before finishing all the work');
  const unpublishedAtKill = await count('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
  t.diagnostic(`at SIGKILL: ${buildsAtKill} builds, ${unpublishedAtKill} outbox rows unpublished`);

  // Jobs the dead worker held stay "active" until BullMQ's stall check (~30-60 s); release their dedup keys
  // so the new process reconciles those presets now (the stalled jobs re-run later, harmlessly).
  await Promise.all(ids.map((id) => queues.reconcile.removeDeduplicationKey(id)));
  const second = spawnReconciler();
  await enqueueReconciles(queues.reconcile, ids, 'restart');
  await waitFor(
    async () => {
      const counts = await Promise.all(ids.map((id) => prebuildCounts(db.pool, id)));
      for (const c of counts) assert.ok(c.total <= 3, `a preset has ${c.total} prebuilds > desired 3`);
      const unpublished = await count('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
      return counts.every((c) => c.total === 3) && unpublished === 0;
    },
    // Generous: the replacement process starts through tsx, slow on a loaded machine (and through PgBouncer/cluster in CI).
    { timeoutMs: 60_000, intervalMs: 50, what: 'convergence after the restart' },
  );

  // Exactly one outbox row per build, published, and one build-requests job with that key.
  const { rows } = await db.pool.query<{ id: string; rows: number; published: number }>(
    `SELECT b.id, count(o.id)::int AS rows, count(o.published_at)::int AS published
     FROM builds b LEFT JOIN outbox o ON o.idempotency_key = 'build-' || b.id GROUP BY b.id`,
  );
  assert.equal(rows.length, 120);
  for (const r of rows) assert.deepEqual([r.rows, r.published], [1, 1], `build ${r.id}`);
  const jobs = await Promise.all(rows.map((r) => queues.buildRequests.getJob(`build-${r.id}`)));
  assert.equal(jobs.filter(Boolean).length, 120);

  second.kill('SIGTERM');
  const [code] = (await once(second, 'exit')) as [number | null];
  assert.equal(code, 0, 'graceful shutdown on SIGTERM');
});
