/**
 * Boundary storm (`npm run bench`, section `boundary`): BENCH_BOUNDARY_PRESETS presets (10,000) whose desired count
 * goes from 0 to 2 at the same instant, cap lifted. The reconciler's exact wake-ups for that instant are armed
 * beforehand (what it does for a schedule boundary); schedules have hour resolution, so instead of waiting for the
 * next hour the desired count is raised just before the instant, with nothing else triggering a reconcile. Measures
 * from the instant to the last build request published.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { armWakeUps, createQueueSet, createRedis } from '@warmpool/bus';
import { startReconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { seedBulk, type Figure } from './lib.js';

const PRESETS = Number(process.env.BENCH_BOUNDARY_PRESETS ?? 10_000);
const logger = createLogger('bench', { level: 'silent' });

export async function boundaryBench(figures: Figure[]): Promise<void> {
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix();
  const redis = createRedis(REDIS_URL, { role: 'producer' });
  const queues = createQueueSet(redis, prefix.prefix);
  const ids = await seedBulk(db.pool, { count: PRESETS, instances: 0, running: 0, tag: 'boundary' });
  const config = testConfig(db.url, prefix.prefix, { WARMPOOL_MAX_INFLIGHT_PREBUILD_BUILDS: '100000', WARMPOOL_WORKER_CONCURRENCY: '16' });
  const reconciler = await startReconciler({ config, logger, pool: db.pool, relayPollMs: 1_000 });
  const boundary = new Date(Date.now() + 8_000 + PRESETS / 2);
  for (let i = 0; i < ids.length; i += 1000) {
    await armWakeUps(queues.reconcile, ids.slice(i, i + 1000).map((presetId) => ({ presetId, at: boundary })), 'timer');
  }
  await sleep(Math.max(0, boundary.getTime() - 1_000 - Date.now()));
  await db.pool.query('UPDATE presets SET instances = 2');
  const wanted = 2 * PRESETS;
  const deadline = boundary.getTime() + 10 * 60_000;
  let published = 0;
  while (published < wanted && Date.now() < deadline) {
    await sleep(100);
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE queue = 'build-requests' AND published_at IS NOT NULL`);
    published = rows[0]!.n;
  }
  const { rows } = await db.pool.query<{ last: Date | null; first: Date | null }>(
    `SELECT max(published_at) AS last, min(created_at) AS first FROM outbox WHERE queue = 'build-requests'`,
  );
  const seconds = ((rows[0]!.last?.getTime() ?? Date.now()) - boundary.getTime()) / 1000;
  figures.push({
    name: `boundary storm: ${PRESETS} presets 0 → 2, boundary to last build request published`,
    value: seconds,
    unit: 's',
    note: `${published}/${wanted} published; ${Math.round(published / Math.max(seconds, 0.001))} requests/s; first written ${((rows[0]!.first?.getTime() ?? 0) - boundary.getTime()) / 1000} s after`,
  });
  await reconciler.close();
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
}
