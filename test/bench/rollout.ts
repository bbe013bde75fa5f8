/**
 * Rolling out a new template version under claims (issue 23), on the Docker provisioner: 3 presets × 5 prebuilds,
 * an image usable ~5 s after start, a client asking for a workspace about once a second (round robin over the
 * presets). Three windows in one run: no rollout (baseline), immediate activation, staged rollout. For each: misses
 * and time to usable p95; for the rollouts the most prebuild containers above the desired total at once, and for
 * the staged one the time from import to promotion.
 * Alone: `node --conditions=development --import tsx test/bench/rollout.ts`.  Options (env): BENCH_ROLLOUT_CLAIM_MS=1000
 */
import { pathToFileURL } from 'node:url';
import { createQueueSet, createRedis } from '@warmpool/bus';
import { ensureUser } from '@warmpool/db';
import { createWorkspace, importVersion, OutboxRelay, reconcilesThrough } from '@warmpool/operations';
import { loadDockerOptions, startDockerProvisioner, LABEL } from '@warmpool/provisioner-docker';
import { startReconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { cleanupInstance, docker, ensureTestImage, testInstance } from '../support/docker.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { seedOrganization, seedTemplate } from '../support/seed.js';
import { waitFor } from '../support/wait.js';
import { percentile, printTable, type Figure } from './lib.js';

const PRESETS = ['a', 'b', 'c'];
const DESIRED = 5;
const CLAIM_MS = Number(process.env.BENCH_ROLLOUT_CLAIM_MS ?? 1000);
const BASELINE_MS = 20_000;

type Request = { at: number; presetName: string; buildId: string; claimed: boolean; workspaceId: string };

export async function rolloutBench(figures: Figure[]): Promise<void> {
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
  const relay = new OutboxRelay(db.pool, queues, logger);
  const ops = { pool: db.pool, reconcile: reconcilesThrough(queues, logger) };
  try {
    const organizationId = await seedOrganization(db.pool);
    const templateId = await seedTemplate(db.pool, organizationId);
    const userId = (await ensureUser(db.pool, 'bench-claimer'))!;
    const manifest = (name: string) => ({
      name,
      presets: PRESETS.map((p) => ({ name: p, parameters: { size: p }, prebuilds: { instances: DESIRED } })),
      parameters: [{ name: 'size', options: PRESETS }],
      workspace: {
        image,
        command: ['sh', '-c', 'sleep 5; touch /tmp/ready; exec sleep 3600'],
        resources: { memory: '32m', cpus: 0.25 },
        healthcheck: { command: ['test', '-f', '/tmp/ready'], interval_seconds: 0.5, retries: 3 },
      },
    });
    const activeEligible = async () =>
      (
        await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM running_prebuilds r JOIN presets p ON p.id = r.preset_id JOIN templates t ON t.active_version_id = p.template_version_id
           WHERE t.id = $1 AND r.eligible`,
          [templateId],
        )
      ).rows[0]!.n;
    const warm = (what: string) => waitFor(async () => (await activeEligible()) === PRESETS.length * DESIRED, { timeoutMs: 300_000, intervalMs: 250, what });

    await importVersion(ops, { template: { id: templateId }, manifest: manifest('v1'), createdBy: null, activate: true });
    await warm('v1 warm');

    let n = 0;
    /**
     * Requests a workspace every CLAIM_MS while `until` is false, for at most `maxMs` (a pool that cannot keep up on
     * a loaded machine must not turn into an endless stream of fresh containers); samples the extra prebuild
     * containers meanwhile.
     */
    async function window(until: () => Promise<boolean>, maxMs: number): Promise<{ requests: Request[]; mostExtra: number; capped: boolean }> {
      const start = Date.now();
      let capped = false;
      const requests: Request[] = [];
      let mostExtra = 0;
      let done = false;
      const sampler = (async () => {
        while (!done) {
          const { rows } = await db.pool.query<{ id: string }>(`SELECT id FROM workspaces WHERE template_id = $1 AND owner_id = $2`, [templateId, userId]);
          const claimed = new Set(rows.map((r) => r.id));
          const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL.instance}=${instance}`] } });
          mostExtra = Math.max(mostExtra, containers.filter((c) => !claimed.has(c.Labels[LABEL.workspace]!)).length - PRESETS.length * DESIRED);
          await new Promise((r) => setTimeout(r, 500));
        }
      })();
      while (!(await until())) {
        if (Date.now() - start > maxMs) {
          capped = true;
          break;
        }
        const at = Date.now();
        const presetName = PRESETS[n % PRESETS.length]!;
        const result = await createWorkspace(
          { pool: db.pool, queues, relay, logger },
          { organizationId, templateId, userId, name: `w${n++}`, parameters: { size: presetName } },
        );
        requests.push({ at, presetName, buildId: result.buildId, claimed: result.claimed, workspaceId: result.workspace.id });
        await new Promise((r) => setTimeout(r, Math.max(0, CLAIM_MS - (Date.now() - at))));
      }
      done = true;
      await sampler;
      return { requests, mostExtra, capped };
    }

    /** Request to usable: the request's build succeeded with every agent ready (claims: the claim build). */
    async function usableMs(requests: Request[]): Promise<number[]> {
      const ids = requests.map((r) => r.buildId);
      const query = `SELECT b.id, (extract(epoch FROM GREATEST(b.completed_at, max(a.ready_at))) * 1000)::float8 AS at
                     FROM builds b LEFT JOIN agents a ON a.build_id = b.id
                     WHERE b.id = ANY($1) AND b.job_status = 'succeeded' GROUP BY b.id HAVING bool_and(COALESCE(a.ready, true))`;
      const rows = await waitFor(
        async () => {
          const { rows } = await db.pool.query<{ id: string; at: number }>(query, [ids]);
          return rows.length === ids.length ? rows : undefined;
        },
        { timeoutMs: 300_000, intervalMs: 500, what: 'every requested workspace usable' },
      );
      const byId = new Map(rows.map((r) => [r.id, r.at]));
      return requests.map((r) => byId.get(r.buildId)! - r.at);
    }

    const report = async (label: string, w: { requests: Request[]; mostExtra: number; capped: boolean }, extra: boolean) => {
      const misses = w.requests.filter((r) => !r.claimed).length;
      if (w.capped) figures.push({ name: `rollout, ${label}: window hit its cap`, value: w.requests.length, unit: 'requests', note: 'the end condition was not reached in time' });
      const usable = await usableMs(w.requests);
      figures.push(
        { name: `rollout, ${label}: misses`, value: misses, unit: 'requests', note: `of ${w.requests.length}, one every ${CLAIM_MS} ms` },
        { name: `rollout, ${label}: time to usable p95`, value: Math.round(percentile(usable, 95)), unit: 'ms', note: `p50 ${Math.round(percentile(usable, 50))} ms` },
      );
      if (extra) figures.push({ name: `rollout, ${label}: most extra prebuild containers at once`, value: w.mostExtra, unit: 'containers', note: `above the desired ${PRESETS.length * DESIRED}` });
      // Claimed and fresh workspaces are the users': removed between windows so that they do not load the engine.
      for (const r of w.requests) await db.pool.query(`UPDATE workspaces SET deleted = true WHERE id = $1`, [r.workspaceId]);
      for (const r of w.requests) await docker.getContainer(`warmpool-${r.workspaceId}`).remove({ force: true, v: true }).catch(() => undefined);
    };

    // Baseline: the same load without a rollout (what the pool sustains on this machine).
    const t0 = Date.now();
    await report('no rollout (baseline)', await window(async () => Date.now() - t0 > BASELINE_MS, BASELINE_MS + 5000), false);
    await warm('v1 warm again');

    // Immediate activation (Coder's behaviour): the window ends once the new version is warm.
    await importVersion(ops, { template: { id: templateId }, manifest: manifest('v2'), createdBy: null, activate: true });
    await report('immediate activation', await window(async () => (await activeEligible()) >= PRESETS.length * DESIRED - 1, 60_000), true);
    await warm('v2 warm');

    // Staged: the window ends a few requests after the promotion.
    const t1 = Date.now();
    const staged = await importVersion(ops, { template: { id: templateId }, manifest: manifest('v3'), createdBy: null, activate: false, rollout: {} });
    let promotedAt = 0;
    const w = await window(async () => {
      if (!promotedAt) {
        const { rows } = await db.pool.query<{ state: string; ended_at: Date | null }>('SELECT state, ended_at FROM template_rollouts WHERE id = $1', [staged.rollout!.id]);
        if (rows[0]!.state === 'promoted') promotedAt = rows[0]!.ended_at!.getTime();
        else if (rows[0]!.state !== 'staged') throw new Error(`the staged rollout ended ${rows[0]!.state}`);
      }
      return promotedAt > 0 && Date.now() - promotedAt > 5 * CLAIM_MS;
    }, 180_000);
    await report('staged rollout', w, true);
    figures.push(
      { name: 'rollout, staged: import → promotion', value: Number(((promotedAt - t1) / 1000).toFixed(1)), unit: 's', note: `surge ${staged.rollout!.surge} = ${staged.rollout!.surgeBuilds} staged builds at once` },
      { name: 'rollout, staged: misses (target)', value: w.requests.filter((r) => !r.claimed).length, unit: 'requests', target: '0', ok: w.requests.every((r) => r.claimed) },
    );
  } finally {
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
  await rolloutBench(figures);
  printTable(figures);
  process.exit(0);
}
