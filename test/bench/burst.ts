/**
 * Burst (issue 24): two presets of the same template, each with a pool of D on the Docker provisioner (~5 s to
 * usable on a quiet machine), are drained by 3 × D claims each, arriving evenly over one median build time and
 * interleaved, in the same run: one preset's claims are plain claim-or-cold, the other's `prefer` with a wait
 * budget (reservations of in-flight prebuilds). Time to usable (request → start build succeeded, agents ready;
 * for claims, the claim build) p50/p95 of each. Alone: `node --conditions=development --import tsx test/bench/burst.ts`.
 * Options (env): BENCH_BURST_D=3  BENCH_BURST_WAIT_MS=60000
 */
import { pathToFileURL } from 'node:url';
import { createQueueSet, createRedis, enqueueReconcile } from '@warmpool/bus';
import { validateManifest } from '@warmpool/core';
import { ensureUser, importTemplateVersion, withTransaction } from '@warmpool/db';
import { createWorkspace, OutboxRelay } from '@warmpool/operations';
import { loadDockerOptions, startDockerProvisioner } from '@warmpool/provisioner-docker';
import { startReconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { cleanupInstance, ensureTestImage, testInstance } from '../support/docker.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { seedOrganization, seedTemplate } from '../support/seed.js';
import { waitFor } from '../support/wait.js';
import { percentile, printTable, type Figure } from './lib.js';

const D = Number(process.env.BENCH_BURST_D ?? 3);
const WAIT_MS = Number(process.env.BENCH_BURST_WAIT_MS ?? 60_000);

export async function burstBench(figures: Figure[]): Promise<void> {
  const image = await ensureTestImage();
  const instance = testInstance();
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix();
  const redis = createRedis(REDIS_URL, { role: 'producer' });
  const queues = createQueueSet(redis, prefix.prefix);
  const logger = createLogger('bench', { level: 'silent' });
  const config = testConfig(db.url, prefix.prefix, { WARMPOOL_WORKER_CONCURRENCY: '8' });
  const reconciler = await startReconciler({ config, logger, pool: db.pool, relayPollMs: 200, healthPort: 0 });
  const provisioner = await startDockerProvisioner({ config, options: { ...loadDockerOptions({}), instance, concurrency: 10, stopTimeoutSeconds: 0 }, logger, pool: db.pool });
  const relay = new OutboxRelay(db.pool, queues, logger, { pollMs: 200 });
  relay.start();
  try {
    const organizationId = await seedOrganization(db.pool);
    const templateId = await seedTemplate(db.pool, organizationId);
    const workspace = {
      image,
      command: ['sh', '-c', 'sleep 5; touch /tmp/ready; exec sleep 3600'],
      healthcheck: { command: ['test', '-f', '/tmp/ready'], interval_seconds: 0.2, retries: 3 },
      claim_hook: { command: ['true'] },
    };
    const validation = validateManifest({
      name: 'burst',
      presets: [{ name: 'plain', prebuilds: { instances: D } }, { name: 'reserving', prebuilds: { instances: D } }],
      workspace,
    });
    if (!validation.ok) throw new Error(JSON.stringify(validation.errors));
    const imported = await withTransaction(db.pool, (client) => importTemplateVersion(client, { templateId, manifest: validation.value, createdBy: null, activate: true }));
    const [plain, reserving] = imported.presetIds as [string, string];
    for (const id of imported.presetIds) await enqueueReconcile(queues.reconcile, id, 'bench');
    const eligible = async (presetId: string) => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM running_prebuilds WHERE preset_id = $1 AND eligible', [presetId])).rows[0]!.n;
    await waitFor(async () => (await eligible(plain)) === D && (await eligible(reserving)) === D, { timeoutMs: 300_000, intervalMs: 100, what: `both pools of ${D} eligible` });
    const { rows: trained } = await db.pool.query<{ ms: number }>('SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY total_ms) AS ms FROM build_durations WHERE template_id = $1', [templateId]);
    const buildMs = trained[0]!.ms;

    const userId = (await ensureUser(db.pool, 'burst-user'))!;
    const deps = { pool: db.pool, relay, logger, queues };
    const requests: { presetId: string; workspaceId: string; at: number; source: string }[] = [];
    const n = 3 * D;
    const t0 = Date.now();
    // Interleaved, evenly over one build time: the k-th claim of each preset at k × buildMs / n.
    await Promise.all(
      Array.from({ length: 2 * n }, async (_, i) => {
        const presetId = i % 2 === 0 ? plain : reserving;
        const k = Math.floor(i / 2);
        await new Promise((r) => setTimeout(r, (k * buildMs) / n));
        const at = Date.now();
        const result = await createWorkspace(deps, {
          organizationId,
          templateId,
          userId,
          name: `burst-${i}`,
          presetId,
          claimOptions: presetId === reserving ? { mode: 'prefer', budgetMs: WAIT_MS } : undefined,
        });
        requests.push({ presetId, workspaceId: result.workspace.id, at, source: result.source });
      }),
    );
    // Usable: the latest build is the user's (claim or cold start), succeeded, and every agent is ready.
    const usableAt = new Map<string, number>();
    await waitFor(
      async () => {
        const { rows } = await db.pool.query<{ id: string; at: Date }>(
          `SELECT l.id, greatest(l.build_completed_at, (SELECT max(a.ready_at) FROM agents a WHERE a.build_id = l.build_id)) AS at
           FROM workspace_latest_builds l
           WHERE l.id = ANY($1) AND l.reason IN ('claim', 'user') AND l.job_status = 'succeeded'
             AND EXISTS (SELECT 1 FROM agents a WHERE a.build_id = l.build_id) AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.build_id = l.build_id AND NOT a.ready)`,
          [requests.map((r) => r.workspaceId)],
        );
        for (const r of rows) usableAt.set(r.id, r.at.getTime());
        return usableAt.size === requests.length;
      },
      { timeoutMs: 300_000, intervalMs: 200, what: `all ${requests.length} burst workspaces usable` },
    );
    const times = (presetId: string) => requests.filter((r) => r.presetId === presetId).map((r) => usableAt.get(r.workspaceId)! - r.at);
    const sources = (presetId: string) =>
      Object.entries(requests.filter((r) => r.presetId === presetId).reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.source]: (acc[r.source] ?? 0) + 1 }), {}))
        .map(([s, c]) => `${s} ${c}`)
        .join(', ');
    const plainTimes = times(plain);
    const reservingTimes = times(reserving);
    const p95Plain = percentile(plainTimes, 95);
    const p95Reserving = percentile(reservingTimes, 95);
    const { rows: fallbacks } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM workspace_claims WHERE fallback_reason IS NOT NULL`);
    figures.push(
      { name: `burst: median build (request → usable), trained on 2 × ${D}`, value: buildMs, unit: 'ms', note: `${2 * n} claims over ${Date.now() - t0} ms` },
      { name: `burst: claim-or-cold, ${n} claims on a pool of ${D}, p50`, value: Math.round(percentile(plainTimes, 50)), unit: 'ms', note: sources(plain) },
      { name: `burst: claim-or-cold, p95`, value: Math.round(p95Plain), unit: 'ms' },
      { name: `burst: with reservations (prefer, ${WAIT_MS / 1000} s), p50`, value: Math.round(percentile(reservingTimes, 50)), unit: 'ms', note: `${sources(reserving)}; ${fallbacks[0]!.n} fell back` },
      { name: `burst: with reservations, p95`, value: Math.round(p95Reserving), unit: 'ms' },
      { name: `  p95 with reservations ÷ claim-or-cold`, value: Math.round((p95Reserving / p95Plain) * 100), unit: '%', target: '≤ 60%', ok: p95Reserving <= 0.6 * p95Plain },
    );
  } finally {
    await relay.stop();
    await provisioner.close();
    await reconciler.close();
    await cleanupInstance(instance);
    await queues.close();
    await redis.quit();
    await prefix.cleanup();
    await db.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures: Figure[] = [];
  await burstBench(figures);
  printTable(figures);
  process.exit(0);
}
