import { randomBytes, randomUUID } from 'node:crypto';
import { SYSTEM_USER_ID, type Pool } from '@warmpool/db';

/** Plain-SQL seeding helpers for integration tests. Each returns the ids it created. */

export type SeededPreset = { presetId: string; versionId: string; templateId: string; organizationId: string };

export type PresetSeed = {
  name?: string;
  instances?: number;
  ttlSeconds?: number | null;
  timezone?: string;
  schedules?: { cron: string; instances: number }[];
  parameters?: Record<string, string>;
};

const suffix = () => randomBytes(4).toString('hex');

export async function seedOrganization(pool: Pool, name = `org-${suffix()}`): Promise<string> {
  const { rows } = await pool.query<{ id: string }>('INSERT INTO organizations (name) VALUES ($1) RETURNING id', [name]);
  return rows[0]!.id;
}

export async function seedTemplate(pool: Pool, organizationId: string, name = `tpl-${suffix()}`): Promise<string> {
  const { rows } = await pool.query<{ id: string }>('INSERT INTO templates (organization_id, name) VALUES ($1, $2) RETURNING id', [organizationId, name]);
  return rows[0]!.id;
}

/** Adds a version with its presets; activates it when `activate` (default true). */
export async function seedVersion(
  pool: Pool,
  templateId: string,
  presets: PresetSeed[],
  options: { activate?: boolean; declarations?: unknown[]; name?: string } = {},
): Promise<{ versionId: string; presetIds: string[] }> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO template_versions (template_id, name, parameters, manifest) VALUES ($1, $2, $3, '{}') RETURNING id`,
    [templateId, options.name ?? `v-${suffix()}`, JSON.stringify(options.declarations ?? [])],
  );
  const versionId = rows[0]!.id;
  const presetIds: string[] = [];
  for (const [i, p] of presets.entries()) {
    const { rows: pr } = await pool.query<{ id: string }>(
      `INSERT INTO presets (template_version_id, name, instances, ttl_seconds, timezone, schedules, parameters)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [versionId, p.name ?? `preset-${i}`, p.instances ?? 0, p.ttlSeconds ?? null, p.timezone ?? '', JSON.stringify(p.schedules ?? []), JSON.stringify(p.parameters ?? {})],
    );
    presetIds.push(pr[0]!.id);
  }
  if (options.activate ?? true) await pool.query('UPDATE templates SET active_version_id = $2 WHERE id = $1', [templateId, versionId]);
  return { versionId, presetIds };
}

/** One org, one template, one active version holding one preset per seed. */
export async function seedPresets(pool: Pool, presets: PresetSeed[], options: { declarations?: unknown[] } = {}): Promise<SeededPreset[]> {
  const organizationId = await seedOrganization(pool);
  const templateId = await seedTemplate(pool, organizationId);
  const { versionId, presetIds } = await seedVersion(pool, templateId, presets, options);
  return presetIds.map((presetId) => ({ presetId, versionId, templateId, organizationId }));
}

/** The PrebuildTarget (packages/db) of a seeded preset, for inserting its prebuilds directly. */
export function prebuildTarget(s: SeededPreset): { presetId: string; organizationId: string; templateId: string; templateVersionId: string } {
  return { presetId: s.presetId, organizationId: s.organizationId, templateId: s.templateId, templateVersionId: s.versionId };
}

/** A prebuild workspace of a fresh preset with one pending build of the given kind (what a build result applies to). */
export async function seedPendingBuild(
  pool: Pool,
  options: { transition?: 'start' | 'delete'; reason?: string; initiator?: string } = {},
): Promise<{ buildId: string; workspaceId: string; presetId: string }> {
  const [p] = await seedPresets(pool, [{ instances: 1 }]);
  const workspaceId = randomUUID();
  const buildId = randomUUID();
  await pool.query(
    `INSERT INTO workspaces (id, organization_id, template_id, template_version_id, preset_id, owner_id, name)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [workspaceId, p!.organizationId, p!.templateId, p!.versionId, p!.presetId, SYSTEM_USER_ID, `ws-${buildId.slice(0, 8)}`],
  );
  await pool.query(
    `INSERT INTO builds (id, workspace_id, build_number, template_version_id, transition, initiator_id, reason)
     VALUES ($1, $2, 1, $3, $4, $5, $6)`,
    [buildId, workspaceId, p!.versionId, options.transition ?? 'start', options.initiator ?? SYSTEM_USER_ID, options.reason ?? 'prebuild-create'],
  );
  return { buildId, workspaceId, presetId: p!.presetId };
}

/** Sets the site-wide pause flag. */
export async function setPaused(pool: Pool, paused: boolean): Promise<void> {
  await pool.query(`UPDATE settings SET value = $1 WHERE key = 'reconciliation_paused'`, [JSON.stringify(paused)]);
}
