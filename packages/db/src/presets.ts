import type pg from 'pg';
import { activeVersionSql } from './active.js';

export type PresetRow = { id: string; name: string; organization_id: string; template_id: string; template_version_id: string; parameters: Record<string, string> };

/** A preset with the organization and template it belongs to. */
export async function findPreset(db: pg.Pool | pg.ClientBase, id: string): Promise<PresetRow | undefined> {
  const { rows } = await db.query<PresetRow>(
    `SELECT p.id, p.name, t.organization_id, t.id AS template_id, p.template_version_id, p.parameters
     FROM presets p JOIN template_versions v ON v.id = p.template_version_id JOIN templates t ON t.id = v.template_id WHERE p.id = $1`,
    [id],
  );
  return rows[0];
}

/**
 * Ids of the active presets (activeVersionSql: a deprecated template's presets are draining, not active), by
 * organization, template and preset name; optionally of one organization (by id or by name).
 */
export async function listActivePresetIds(db: pg.Pool | pg.ClientBase, filter: { organizationId?: string; organizationName?: string } = {}): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT p.id FROM presets p
     JOIN templates t ON t.active_version_id = p.template_version_id
     JOIN organizations o ON o.id = t.organization_id
     WHERE ${activeVersionSql('p.template_version_id')} AND ($1::uuid IS NULL OR o.id = $1) AND ($2::text IS NULL OR o.name = $2)
     ORDER BY o.name, t.name, p.name`,
    [filter.organizationId ?? null, filter.organizationName ?? null],
  );
  return rows.map((r) => r.id);
}

/** Presets of one version, by name. */
export async function listVersionPresets(db: pg.Pool | pg.ClientBase, versionId: string): Promise<{ id: string; name: string }[]> {
  const { rows } = await db.query<{ id: string; name: string }>('SELECT id, name FROM presets WHERE template_version_id = $1 ORDER BY name', [versionId]);
  return rows;
}

/** Presets of every version of a template. */
export async function listTemplatePresetIds(db: pg.Pool | pg.ClientBase, templateId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    'SELECT p.id FROM presets p JOIN template_versions v ON v.id = p.template_version_id WHERE v.template_id = $1',
    [templateId],
  );
  return rows.map((r) => r.id);
}

/** Operator resume (BEHAVIOUR.md §4.3): healthy again, and failures before now no longer count. */
export async function resumePreset(db: pg.Pool | pg.ClientBase, presetId: string): Promise<void> {
  await db.query(
    `UPDATE presets SET status = 'healthy', status_reason = NULL, status_changed_at = now(), failures_reset_at = now() WHERE id = $1`,
    [presetId],
  );
}

/** Operator invalidation: every current prebuild of the preset counts as expired. Returns the instant. */
export async function invalidatePreset(db: pg.Pool | pg.ClientBase, presetId: string): Promise<Date> {
  const { rows } = await db.query<{ invalidated_at: Date }>('UPDATE presets SET invalidated_at = now() WHERE id = $1 RETURNING invalidated_at', [presetId]);
  return rows[0]!.invalidated_at;
}
