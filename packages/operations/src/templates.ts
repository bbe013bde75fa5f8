import { DomainError } from '@warmpool/contracts';
import {
  activateVersion as storeActiveVersion,
  ensureTemplate,
  importTemplateVersion,
  listTemplatePresetIds,
  loadActivePoolShapes,
  listVersionPresets,
  retireTemplate as storeRetired,
  versionBelongsTo,
  withTransaction,
  type Pool,
} from '@warmpool/db';
import { inspectManifest, type ManifestCheck } from './manifest-check.js';
import { offload } from './offload/pool.js';
import type { TriggerReconciles } from './reconciles.js';

export type TemplateDeps = { pool: Pool; reconcile: TriggerReconciles };

export type ImportVersionInput = {
  /** An existing template, or one found (created if needed) by name in the organization, in the same transaction. */
  template: { id: string } | { organizationId: string; name: string };
  /** The manifest as parsed JSON, or as text (JSON or YAML). */
  manifest: unknown;
  createdBy: string | null;
  activate: boolean;
};

export type ImportVersionResult = {
  templateId: string;
  versionId: string;
  versionName: string;
  presets: { id: string; name: string }[];
  warnings: string[];
  activated: boolean;
};

/** Parses (when text) and validates a manifest with the rules of §2; throws `invalid_manifest` / `invalid_text`. */
export function checkManifest(manifest: unknown) {
  return orThrow(inspectManifest(manifest));
}

/**
 * checkManifest in a worker thread with a time budget (issue 21). Always, not above a size: cost is not proportional
 * to size (a 17 KB list of 64 crons of 80 list items each takes over a second to expand), and a warm worker's round
 * trip costs about a millisecond.
 */
export async function checkManifestOffLoop(manifest: unknown) {
  return orThrow(await offload('manifestTask', manifest, { path: 'body', label: 'checking the manifest' }));
}

/** Dry run of a manifest against the template's active pools (BEHAVIOUR.md §7), in the worker pool. */
export async function dryRunManifest(pool: Pool, templateId: string, manifest: unknown, now = new Date()) {
  const current = await loadActivePoolShapes(pool, templateId);
  const outcome = await offload('dryRunTask', { manifest, current, now }, { path: 'body', label: 'the dry run' });
  if (!outcome.ok) throw new DomainError(outcome.code, outcome.message, outcome.details);
  return { warnings: outcome.warnings, changes: outcome.changes };
}

function orThrow(check: ManifestCheck) {
  if (!check.ok) throw new DomainError(check.code, check.message, check.details);
  return check;
}

/**
 * Imports a manifest as a new version of a template (§2): everything in one transaction or nothing. With
 * `activate`, the presets whose pools change (the new version's and the replaced version's) are reconciled at once.
 */
export async function importVersion(deps: TemplateDeps, input: ImportVersionInput): Promise<ImportVersionResult> {
  const { value: manifest, warnings } = await checkManifestOffLoop(input.manifest);
  const imported = await withTransaction(deps.pool, async (client) => {
    const templateId = 'id' in input.template ? input.template.id : await ensureTemplate(client, input.template.organizationId, input.template.name);
    return { templateId, ...(await importTemplateVersion(client, { templateId, manifest, createdBy: input.createdBy, activate: input.activate })) };
  });
  if (input.activate) await deps.reconcile(imported.affectedPresetIds, 'version-activated');
  return {
    templateId: imported.templateId,
    versionId: imported.versionId,
    versionName: manifest.name,
    presets: await listVersionPresets(deps.pool, imported.versionId),
    warnings,
    activated: input.activate,
  };
}

/** Makes a version of the template active and reconciles both the new and the replaced version's presets. */
export async function activateVersion(deps: TemplateDeps, input: { templateId: string; versionId: string }): Promise<void> {
  const previous = await withTransaction(deps.pool, async (client) => {
    if (!(await versionBelongsTo(client, input.versionId, input.templateId))) throw new DomainError('not_found', 'version not found');
    return storeActiveVersion(client, input.templateId, input.versionId);
  });
  const current = (await listVersionPresets(deps.pool, input.versionId)).map((p) => p.id);
  await deps.reconcile([...current, ...previous], 'version-activated');
}

/** Deprecates or deletes a template; its pools drain (their presets are no longer active). */
export async function retireTemplate(deps: TemplateDeps, input: { templateId: string; how: 'deprecated' | 'deleted' }): Promise<void> {
  await storeRetired(deps.pool, input.templateId, input.how);
  await deps.reconcile(await listTemplatePresetIds(deps.pool, input.templateId), input.how === 'deprecated' ? 'template-deprecated' : 'template-deleted');
}
