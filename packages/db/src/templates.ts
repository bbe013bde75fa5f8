import type pg from 'pg';

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
        }
      | undefined;
  }[];
};

export class VersionExistsError extends Error {
  override name = 'VersionExistsError';
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
    `INSERT INTO presets (template_version_id, name, description, is_default, parameters, instances, ttl_seconds, timezone, schedules, autoscaling)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bool[], $5::jsonb[], $6::int[], $7::int[], $8::text[], $9::jsonb[], $10::jsonb[])
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
