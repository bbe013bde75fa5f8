/**
 * Claim latency through the HTTP API (`npm run bench` runs it after the pipeline figures; alone:
 * `node --conditions=development --import tsx test/bench/claim.ts`). For 1, 10 and 50 concurrent claimers, each
 * claims repeatedly from a preset with enough eligible prebuilds; reports p50/p99 of the whole request and of the
 * claim transaction (the claim-duration histogram), and counts double claims (must be 0).
 */
import { seedBulk, percentile, printTable, type Figure } from './lib.js';
import { client, startTestApi, userWithRole } from '../support/api.js';

export async function claimBench(figures: Figure[]): Promise<void> {
  const env = await startTestApi({ WARMPOOL_METRICS_REFRESH_MS: '3600000' });
  try {
    const call = client(env.api.url);
    const plan = [
      [1, 100],
      [10, 400],
      [50, 1000],
    ] as const;
    const total = plan.reduce((n, [, claims]) => n + claims, 0);
    const [presetId] = await seedBulk(env.db.pool, { count: 1, instances: total, running: total, tag: 'claim' });
    const { rows } = await env.db.pool.query<{ template_id: string; organization_id: string; name: string }>(
      `SELECT t.id AS template_id, t.organization_id, o.name FROM presets p JOIN template_versions v ON v.id = p.template_version_id
       JOIN templates t ON t.id = v.template_id JOIN organizations o ON o.id = t.organization_id WHERE p.id = $1`,
      [presetId],
    );
    const { template_id: templateId, organization_id: organizationId, name: org } = rows[0]!;
    const { token } = await userWithRole(env.db.pool, 'member', organizationId);
    let seq = 0;
    for (const [concurrency, claims] of plan) {
      const latencies: number[] = [];
      let fallbacks = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < claims) {
            next++;
            const t0 = performance.now();
            const res = await call('POST', `/api/v1/organizations/${org}/workspaces`, { token, body: { template_id: templateId, name: `c${seq++}`, preset_id: presetId } });
            latencies.push(performance.now() - t0);
            if (res.status !== 201) throw new Error(`claim failed: ${res.status} ${JSON.stringify(res.body)}`);
            if (res.body.claimed !== true) fallbacks++;
          }
        }),
      );
      const p99 = percentile(latencies, 99);
      figures.push({ name: `claim request, ${concurrency} concurrent, p50`, value: percentile(latencies, 50), unit: 'ms', note: `${claims} claims, ${fallbacks} fallbacks` });
      figures.push({ name: `claim request, ${concurrency} concurrent, p99`, value: p99, unit: 'ms', ...(concurrency === 50 ? { target: '≤ 25', ok: p99 <= 25 } : {}) });
    }
    const metrics = await (await fetch(`${env.api.url}/metrics`)).text();
    const bucket = (le: string) => Number(new RegExp(`warmpool_prebuilt_workspace_claim_duration_seconds_bucket\\{le="${le}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    const count = Number(/warmpool_prebuilt_workspace_claim_duration_seconds_count\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
    figures.push({ name: 'claim transactions within 25 ms (all runs)', value: Math.round((bucket('0.025') / Math.max(count, 1)) * 1000) / 10, unit: '%', note: `${count} claims; histogram` });
    const doubles = await env.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT workspace_id FROM builds WHERE reason = 'claim' GROUP BY workspace_id HAVING count(*) > 1) d`,
    );
    figures.push({ name: 'double claims', value: doubles.rows[0]!.n, unit: '', target: '0', ok: doubles.rows[0]!.n === 0 });
  } finally {
    await env.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures: Figure[] = [];
  await claimBench(figures);
  printTable(figures);
  process.exit(0);
}
