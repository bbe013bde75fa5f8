/**
 * Cold start of 50 prebuilds on the Docker provisioner beside raw `docker create + start` of the same image in the
 * same run (`npm run bench` runs it last; alone: `node --conditions=development --import tsx test/bench/docker.ts`).
 * Options (env): BENCH_DOCKER_PREBUILDS=50  BENCH_DOCKER_CONCURRENCY=10
 */
import { pathToFileURL } from 'node:url';
import { createQueueSet, createRedis, enqueueReconcile } from '@warmpool/bus';
import { validateManifest, type Manifest } from '@warmpool/core';
import { importTemplateVersion, withTransaction } from '@warmpool/db';
import { loadDockerOptions, startDockerProvisioner } from '@warmpool/provisioner-docker';
import { startReconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { cleanupInstance, docker, ensureTestImage, testInstance } from '../support/docker.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { seedOrganization, seedTemplate } from '../support/seed.js';
import { waitFor } from '../support/wait.js';
import { percentile, printTable, type Figure } from './lib.js';

const N = Number(process.env.BENCH_DOCKER_PREBUILDS ?? 50);
const CONCURRENCY = Number(process.env.BENCH_DOCKER_CONCURRENCY ?? 10);
const COMMAND = ['sleep', '3600'];

/** Runs `task` for 0..n-1 with at most `limit` at once; resolves with each task's duration (ms). */
async function bounded(n: number, limit: number, task: (i: number) => Promise<void>): Promise<number[]> {
  const durations: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        durations.push(performance.now() - t0);
      }
    }),
  );
  return durations;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function dockerBench(figures: Figure[]): Promise<void> {
  const image = await ensureTestImage();
  const instance = testInstance();
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix();
  const redis = createRedis(REDIS_URL, { role: 'producer' });
  const queues = createQueueSet(redis, prefix.prefix);
  const logger = createLogger('bench', { level: 'silent' });
  const options = { ...loadDockerOptions({}), instance, concurrency: CONCURRENCY, stopTimeoutSeconds: 0 };
  // The kit keeps a fifth of the slots for deletes and claims: compare with raw calls at the create slots' width.
  const createSlots = CONCURRENCY - Math.max(1, Math.floor(CONCURRENCY / 5));
  try {
    // Raw engine: create + start the same image, same width, no Warmpool.
    const t0 = performance.now();
    const raw = await bounded(N, createSlots, async (i) => {
      const c = await docker.createContainer({ name: `bench-raw-${instance}-${i}`, Image: image, Cmd: COMMAND, Labels: { 'warmpool.instance': instance } });
      await c.start();
    });
    const rawWall = (performance.now() - t0) / 1000;
    await cleanupInstance(instance);

    const config = testConfig(db.url, prefix.prefix, { WARMPOOL_MAX_INFLIGHT_PREBUILD_BUILDS: '1000', WARMPOOL_WORKER_CONCURRENCY: '8' });
    const reconciler = await startReconciler({ config, logger, pool: db.pool, relayPollMs: 200, healthPort: 0 });
    const provisioner = await startDockerProvisioner({ config, options, logger, pool: db.pool });
    try {
      const templateId = await seedTemplate(db.pool, await seedOrganization(db.pool));
      const validation = validateManifest({ name: 'bench', presets: [{ name: 'cold', prebuilds: { instances: N } }], workspace: { image, command: COMMAND } });
      if (!validation.ok) throw new Error(JSON.stringify(validation.errors));
      const manifest: Manifest = validation.value;
      const t1 = performance.now();
      const imported = await withTransaction(db.pool, (client) => importTemplateVersion(client, { templateId, manifest, createdBy: null, activate: true }));
      await enqueueReconcile(queues.reconcile, imported.presetIds[0]!, 'bench');
      await waitFor(
        async () => {
          const { rows } = await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM builds b JOIN agents a ON a.build_id = b.id WHERE b.job_status = 'succeeded' AND a.ready AND b.reason = 'prebuild-create'`,
          );
          return rows[0]!.n >= N;
        },
        { timeoutMs: 300_000, intervalMs: 50, what: `${N} eligible prebuilds` },
      );
      const wall = (performance.now() - t1) / 1000;
      const { rows } = await db.pool.query<{ ms: number }>(
        `SELECT extract(epoch FROM completed_at - started_at) * 1000 AS ms FROM builds WHERE reason = 'prebuild-create' AND job_status = 'succeeded'`,
      );
      const inBuild = rows.map((r) => Number(r.ms));
      figures.push(
        { name: `raw docker create+start, ${N} containers`, value: Number(rawWall.toFixed(2)), unit: 's', note: `${(N / rawWall).toFixed(1)}/s at width ${createSlots}; p50 ${Math.round(percentile(raw, 50))} ms each` },
        { name: `Docker provisioner: import → ${N} eligible`, value: Number(wall.toFixed(2)), unit: 's', note: `${(N / wall).toFixed(1)} containers/s, ${CONCURRENCY} slots (${createSlots} for creates)` },
        { name: '  build time inside the provisioner, p50', value: Math.round(percentile(inBuild, 50)), unit: 'ms', note: `started → succeeded; raw create+start p50 ${Math.round(percentile(raw, 50))} ms` },
        { name: '  provisioner overhead per build', value: Math.round(mean(inBuild) - mean(raw)), unit: 'ms', note: 'mean build time minus mean raw create+start (DB lookup, volume, inspect, reports)' },
        { name: '  end-to-end overhead per prebuild', value: Math.round(((wall - rawWall) * 1000 * createSlots) / N), unit: 'ms', note: '(wall − raw wall) × width ÷ N: reconcile, outbox, queues, results' },
      );
    } finally {
      await provisioner.close();
      await reconciler.close();
    }
  } finally {
    await cleanupInstance(instance);
    await queues.close();
    await redis.quit();
    await prefix.cleanup();
    await db.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures: Figure[] = [];
  await dockerBench(figures);
  printTable(figures);
  process.exit(0);
}
