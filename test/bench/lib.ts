import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { Pool } from '@warmpool/db';
import { REDIS_URL } from '../support/env.js';

/** Shared helpers of the benchmark scripts: bulk seeding, percentiles, Redis counters, the result table. */

export type Figure = { name: string; value: number; unit: string; target?: string; ok?: boolean; note?: string };

export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Seeds `count` presets in one org/template/active version. Each gets `instances` desired and `running`
 * succeeded prebuilds with a ready agent (so instances = running is a converged, no-op pool).
 */
export async function seedBulk(pool: Pool, options: { count: number; instances: number; running: number; tag: string }): Promise<string[]> {
  const { count, instances, running, tag } = options;
  const { rows: org } = await pool.query<{ id: string }>(`INSERT INTO organizations (name) VALUES ($1) RETURNING id`, [`bench-${tag}`]);
  const { rows: tpl } = await pool.query<{ id: string }>(`INSERT INTO templates (organization_id, name) VALUES ($1, $2) RETURNING id`, [org[0]!.id, `t-${tag}`]);
  const { rows: ver } = await pool.query<{ id: string }>(
    `INSERT INTO template_versions (template_id, name, manifest) VALUES ($1, 'v1', '{}') RETURNING id`,
    [tpl[0]!.id],
  );
  await pool.query(`UPDATE templates SET active_version_id = $2 WHERE id = $1`, [tpl[0]!.id, ver[0]!.id]);
  const { rows: presets } = await pool.query<{ id: string }>(
    `INSERT INTO presets (template_version_id, name, instances) SELECT $1, 'p' || g, $2 FROM generate_series(1, $3) g RETURNING id`,
    [ver[0]!.id, instances, count],
  );
  if (running > 0) {
    await pool.query(
      `WITH w AS (
         INSERT INTO workspaces (organization_id, template_id, template_version_id, preset_id, owner_id, name, created_at)
         SELECT $1, $2, $3, p.id, '00000000-0000-0000-0000-000000000001', 'pb-' || $5 || '-' || p.id || '-' || g, now() - interval '1 minute'
         FROM presets p, generate_series(1, $4) g WHERE p.template_version_id = $3
         RETURNING id),
       b AS (
         INSERT INTO builds (workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status, completed_at)
         SELECT w.id, 1, $3, 'start', '00000000-0000-0000-0000-000000000001', 'prebuild-create', 'succeeded', now() FROM w
         RETURNING id)
       INSERT INTO agents (build_id, name, ready, ready_at) SELECT b.id, 'main', true, now() FROM b`,
      [org[0]!.id, tpl[0]!.id, ver[0]!.id, running, tag],
    );
  }
  await pool.query('ANALYZE');
  return presets.map((p) => p.id);
}

/** Total Redis commands processed so far (INFO stats), to count commands per operation. */
export async function redisCommandCount(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
}

export async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

export function newRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

export function printTable(figures: Figure[]): void {
  const rows = figures.map((f) => [
    f.name,
    `${Number.isInteger(f.value) ? f.value : f.value.toFixed(f.value < 10 ? 2 : 1)} ${f.unit}`,
    f.target ?? '',
    f.ok === undefined ? '' : f.ok ? 'met' : 'MISSED',
    f.note ?? '',
  ]);
  const head = ['figure', 'value', 'target', '', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(['', line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ''].join('\n'));
}

export function writeResults(figures: Figure[], meta: Record<string, unknown>): string {
  mkdirSync('.bench-results', { recursive: true });
  const file = `.bench-results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify({ meta, figures }, null, 2));
  return file;
}
