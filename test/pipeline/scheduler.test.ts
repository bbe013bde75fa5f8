import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueSet, createRedis, type QueueSet } from '@warmpool/bus';
import { createLogger } from '@warmpool/runtime';
import { startScheduler, type Scheduler } from '@warmpool/scheduler';
import { withTransaction } from '@warmpool/db';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { seedPresets } from '../support/seed.js';
import { testConfig } from '../support/pipeline.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
const logger = createLogger('test', { level: 'silent' });
const started: Scheduler[] = [];

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
});
after(async () => {
  await Promise.all(started.map((s) => s.close()));
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

test('replicas share one tick scheduler; each tick enqueues one deduplicated reconcile per preset with work, none for converged ones', async () => {
  const presets = await seedPresets(db.pool, [{ instances: 1 }, { instances: 2 }, { instances: 0 }]);
  const config = testConfig(db.url, prefix.prefix, { WARMPOOL_RECONCILE_INTERVAL_MS: '1000' });
  const replicas = await Promise.all([startScheduler({ config, logger, pool: db.pool }), startScheduler({ config, logger, pool: db.pool })]);
  started.push(...replicas);
  const schedulers = await queues.schedulerTick.getJobSchedulers();
  assert.equal(schedulers.length, 1);
  assert.equal(Number(schedulers[0]!.every), 1000);
  // No reconcile worker runs here, so the waiting reconcile jobs accumulate, one per preset at most.
  await waitFor(async () => (await queues.reconcile.getWaitingCount()) === 2, { timeoutMs: 5_000, what: 'a tick' });
  const waiting = await queues.reconcile.getJobs(['wait']);
  // The preset with 0 desired and nothing running is converged: screened out, no job.
  assert.deepEqual(waiting.map((j) => j.data.presetId).sort(), presets.slice(0, 2).map((p) => p.presetId).sort());
  assert.ok(waiting.every((j) => j.data.trigger === 'tick'));
  assert.equal(await replicas[0]!.tick(), 2);
  assert.equal(await queues.reconcile.getWaitingCount(), 2, 'dedup: ticks never pile up jobs for one preset');
});

test('a tick arms the exact wake-up of a converged preset whose prebuild expires before the next-but-one tick', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 0, ttlSeconds: 3600 }]);
  const config = testConfig(db.url, prefix.prefix, { WARMPOOL_RECONCILE_INTERVAL_MS: '60000' });
  const scheduler = await startScheduler({ config, logger, pool: db.pool });
  started.push(scheduler);
  // Desired 0 with one running prebuild would be work; make the pool converged with desired 1 instead. One transaction:
  // a tick already running (this scheduler's first, or an earlier test's) must not see desired 1 with nothing running.
  const expiresAt = Date.now() + 30_000;
  await withTransaction(db.pool, async (client) => {
    await client.query('UPDATE presets SET instances = 1 WHERE id = $1', [p!.presetId]);
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO workspaces (organization_id, template_id, template_version_id, preset_id, owner_id, name, created_at)
       VALUES ($1, $2, $3, $4, '00000000-0000-0000-0000-000000000001', 'pb-ttl', $5::timestamptz - interval '3600 seconds') RETURNING id`,
      [p!.organizationId, p!.templateId, p!.versionId, p!.presetId, new Date(expiresAt)],
    );
    const { rows: b } = await client.query<{ id: string }>(
      `INSERT INTO builds (workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status)
       VALUES ($1, 1, $2, 'start', '00000000-0000-0000-0000-000000000001', 'prebuild-create', 'succeeded') RETURNING id`,
      [rows[0]!.id, p!.versionId],
    );
    await client.query(`INSERT INTO agents (build_id, name, ready) VALUES ($1, 'main', true)`, [b[0]!.id]);
  });
  await scheduler.tick();
  const wake = await queues.reconcile.getJob(`wake-${p!.presetId}-${expiresAt + 1}`);
  assert.ok(wake, 'wake-up armed at the first instant the prebuild is expired');
  assert.equal((await queues.reconcile.getJobs(['wait'])).filter((j) => j.data.presetId === p!.presetId).length, 0, 'no reconcile job: nothing to do now');
});
