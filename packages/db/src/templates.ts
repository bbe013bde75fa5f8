import type pg from 'pg';
import { DomainError } from '@warmpool/contracts';

/** The validated manifest shape this module stores (structurally the core's `Manifest`). */
export type ManifestToStore = {
  name: string;
  parameters: { name: string; required: boolean; default?: string | undefined; options?: string[] | undefined }[];
  presets: {
    name: string;
    description?: string | undefined;
    default: boolean;
    parameters: Record<string, string>;
    prebuilds?:
      | {
          instances: number;
          expiration_policy?: { ttl: number } | undefined;
          scheduling?: { timezone: string; schedule: { cron: string; instances: number }[] } | undefined;
          /** The validated `prebuilds.autoscaling` fragment, stored as written. */
          autoscaling?: object | undefined;
          /** The validated `prebuilds.standby` fragment, stored as written. */
          standby?: object | undefined;
        }
      | undefined;
  }[];
};

/** Version names are unique per template: `conflict`. */
export class VersionExistsError extends DomainError {
  override name = 'VersionExistsError';
  constructor(message: string) {
    super('conflict', message);
  }
}

/**
 * Stores a validated manifest as a new version of a template, inside the caller's transaction, and with
 * `activate` makes it the active version. Returns the presets whose pools change: the new version's and,
 * when activating, the previously active version's (their prebuilds become outdated).
 */
export async function importTemplateVersion(
  client: pg.ClientBase,
  input: { templateId: string; manifest: ManifestToStore; createdBy: string | null; activate: boolean },
): Promise<{ versionId: string; presetIds: string[]; affectedPresetIds: string[] }> {
  const { templateId, manifest } = input;
  const version = await client
    .query<{ id: string }>(
      `INSERT INTO template_versions (template_id, name, parameters, manifest, created_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (template_id, name) DO NOTHING RETURNING id`,
      [templateId, manifest.name, JSON.stringify(manifest.parameters), JSON.stringify(manifest), input.createdBy],
    );
  const versionId = version.rows[0]?.id;
  if (!versionId) throw new VersionExistsError(`version ${JSON.stringify(manifest.name)} already exists for this template`);
  const presets = manifest.presets;
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO presets (template_version_id, name, description, is_default, parameters, instances, ttl_seconds, timezone, schedules, autoscaling, standby)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bool[], $5::jsonb[], $6::int[], $7::int[], $8::text[], $9::jsonb[], $10::jsonb[], $11::jsonb[])
     RETURNING id`,
    [
      versionId,
      presets.map((p) => p.name),
      presets.map((p) => p.description ?? ''),
      presets.map((p) => p.default),
      presets.map((p) => JSON.stringify(p.parameters)),
      presets.map((p) => p.prebuilds?.instances ?? 0),
      presets.map((p) => p.prebuilds?.expiration_policy?.ttl ?? null),
      presets.map((p) => p.prebuilds?.scheduling?.timezone ?? ''),
      presets.map((p) => JSON.stringify(p.prebuilds?.scheduling?.schedule ?? [])),
      presets.map((p) => (p.prebuilds?.autoscaling ? JSON.stringify(p.prebuilds.autoscaling) : null)),
      presets.map((p) => (p.prebuilds?.standby ? JSON.stringify(p.prebuilds.standby) : null)),
    ],
  );
  const presetIds = rows.map((r) => r.id);
  if (!input.activate) return { versionId, presetIds, affectedPresetIds: [] };
  return { versionId, presetIds, affectedPresetIds: [...presetIds, ...(await activateVersion(client, templateId, versionId))] };
}

/** Makes `versionId` the template's active version; returns the presets of the version it replaced. */
export async function activateVersion(client: pg.ClientBase, templateId: string, versionId: string): Promise<string[]> {
  const { rows } = await client.query<{ previous: string | null }>(
    `UPDATE templates t SET active_version_id = $2, updated_at = now()
     FROM (SELECT active_version_id AS previous FROM templates WHERE id = $1 FOR UPDATE) old
     WHERE t.id = $1 RETURNING old.previous`,
    [templateId, versionId],
  );
  const previous = rows[0]?.previous;
  if (!previous || previous === versionId) return [];
  const old = await client.query<{ id: string }>('SELECT id FROM presets WHERE template_version_id = $1', [previous]);
  return old.rows.map((r) => r.id);
}

export type TemplateRow = { id: string; organization_id: string; name: string; active_version_id: string | null; deprecated: boolean; deleted: boolean };

/** A template by id (deleted ones included: the caller decides what they mean). */
export async function findTemplate(db: pg.Pool | pg.ClientBase, id: string): Promise<TemplateRow | undefined> {
  const { rows } = await db.query<TemplateRow>('SELECT id, organization_id, name, active_version_id, deprecated, deleted FROM templates WHERE id = $1', [id]);
  return rows[0];
}

export type TemplateSummary = Pick<TemplateRow, 'id' | 'name' | 'active_version_id' | 'deprecated'>;

/** The organization's live template of that name (CLI). */
export async function findTemplateByName(db: pg.Pool | pg.ClientBase, organizationId: string, name: string): Promise<TemplateRow | undefined> {
  const { rows } = await db.query<TemplateRow>(
    'SELECT id, organization_id, name, active_version_id, deprecated, deleted FROM templates WHERE organization_id = $1 AND name = $2 AND NOT deleted',
    [organizationId, name],
  );
  return rows[0];
}

/** Creates a template; undefined when a live template of that name exists in the organization. */
export async function createTemplate(db: pg.Pool | pg.ClientBase, organizationId: string, name: string): Promise<TemplateSummary | undefined> {
  const { rows } = await db.query<TemplateSummary>(
    `INSERT INTO templates (organization_id, name) VALUES ($1, $2) ON CONFLICT (organization_id, name) WHERE NOT deleted DO NOTHING
     RETURNING id, name, active_version_id, deprecated`,
    [organizationId, name],
  );
  return rows[0];
}

/** The id of the live template of that name, created if needed (CLI import). */
export async function ensureTemplate(client: pg.ClientBase, organizationId: string, name: string): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO templates (organization_id, name) VALUES ($1, $2)
     ON CONFLICT (organization_id, name) WHERE NOT deleted DO UPDATE SET updated_at = now() RETURNING id`,
    [organizationId, name],
  );
  return rows[0]!.id;
}

export async function listTemplates(db: pg.Pool | pg.ClientBase, organizationId: string): Promise<TemplateSummary[]> {
  const { rows } = await db.query<TemplateSummary>(
    'SELECT id, name, active_version_id, deprecated FROM templates WHERE organization_id = $1 AND NOT deleted ORDER BY name',
    [organizationId],
  );
  return rows;
}

export async function versionBelongsTo(db: pg.Pool | pg.ClientBase, versionId: string, templateId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM template_versions WHERE id = $1 AND template_id = $2', [versionId, templateId]);
  return (rowCount ?? 0) > 0;
}

/** Marks the template deprecated (no new workspaces) or deleted; its pools drain on the next reconcile. */
export async function retireTemplate(db: pg.Pool | pg.ClientBase, templateId: string, how: 'deprecated' | 'deleted'): Promise<void> {
  const column = how === 'deprecated' ? 'deprecated' : 'deleted';
  await db.query(`UPDATE templates SET ${column} = true, updated_at = now() WHERE id = $1`, [templateId]);
}

export type ClaimTarget = {
  id: string;
  name: string;
  activeVersionId: string;
  deprecated: boolean;
  /** Parameter declarations of the active version. */
  declarations: { name: string; required: boolean; default?: string | undefined; options?: string[] | undefined }[];
  /** The presets of the active version. */
  presets: { id: string; name: string; parameters: Record<string, string> }[];
};

// The claim target's columns over `templates t JOIN template_versions v ON v.id = t.active_version_id`.
const CLAIM_TARGET_COLUMNS = `t.id, t.name, t.active_version_id AS "activeVersionId", t.deprecated, v.parameters AS declarations,
            COALESCE((SELECT json_agg(json_build_object('id', p.id, 'name', p.name, 'parameters', p.parameters))
                      FROM presets p WHERE p.template_version_id = v.id), '[]') AS presets`;

/**
 * What creating a workspace from a template needs, in one statement: the live template of the organization with
 * its active version's declarations and presets. Undefined when there is no such template or no active version.
 */
export async function loadClaimTarget(db: pg.Pool | pg.ClientBase, organizationId: string, templateId: string): Promise<ClaimTarget | undefined> {
  const { rows } = await db.query<ClaimTarget>(
    `SELECT ${CLAIM_TARGET_COLUMNS}
     FROM templates t JOIN template_versions v ON v.id = t.active_version_id
     WHERE t.id = $1 AND t.organization_id = $2 AND NOT t.deleted`,
    [templateId, organizationId],
  );
  return rows[0];
}

/**
 * The organization by name and, in the same statement, the claim target of one of its templates (as
 * `loadClaimTarget`), so a create on cold caches looks both up in one round trip. Undefined for an unknown
 * organization; `target` undefined when the template is not the organization's live one with an active version.
 */
export async function loadOrganizationClaimTarget(
  db: pg.Pool | pg.ClientBase,
  organizationName: string,
  templateId: string,
): Promise<{ organizationId: string; target: ClaimTarget | undefined } | undefined> {
  const { rows } = await db.query<{ organization_id: string; target: ClaimTarget | null }>(
    `SELECT o.id AS organization_id,
            (SELECT row_to_json(c) FROM (SELECT ${CLAIM_TARGET_COLUMNS}
                FROM templates t JOIN template_versions v ON v.id = t.active_version_id
                WHERE t.id = $2 AND t.organization_id = o.id AND NOT t.deleted) c) AS target
     FROM organizations o WHERE o.name = $1`,
    [organizationName, templateId],
  );
  const row = rows[0];
  return row ? { organizationId: row.organization_id, target: row.target ?? undefined } : undefined;
}
