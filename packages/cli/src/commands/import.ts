import { readFile } from 'node:fs/promises';
import { ManifestSyntaxError, parseManifestText, validateManifest } from '@warmpool/core';
import { createQueueSet, createRedis, enqueueReconciles } from '@warmpool/bus';
import { ensureTemplate, importTemplateVersion, TEMPLATE_NAME_PATTERN, VersionExistsError, withTransaction, type Pool } from '@warmpool/db';
import type { Config } from '@warmpool/runtime';
import { UsageError } from '../output.js';
import { findOrganization } from './bootstrap.js';

export type ImportResult = { templateId: string; versionId: string; versionName: string; presets: number; warnings: string[]; activated: boolean };

const TEMPLATE_NAME = new RegExp(TEMPLATE_NAME_PATTERN);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The manifest file's text; bytes that are not UTF-8 are refused rather than silently replaced. */
export async function readManifestFile(file: string): Promise<string> {
  const bytes = await readFile(file).catch(() => {
    throw new UsageError(`cannot read ${file}`);
  });
  try {
    return utf8.decode(bytes);
  } catch {
    throw new UsageError(`${file} is not valid UTF-8`);
  }
}

/**
 * Validates manifest text with the same rules as the API and imports it in one transaction (nothing is stored
 * when anything is wrong). With `activate`, the affected presets are reconciled at once.
 */
export async function importManifestFile(pool: Pool, config: Config, options: { text: string; org: string; template: string; activate: boolean }): Promise<ImportResult> {
  if (!TEMPLATE_NAME.test(options.template)) {
    throw new UsageError(`template name ${JSON.stringify(options.template)}: use lowercase letters, digits, - and _ (max 63); choose one with --template`);
  }
  let input: unknown;
  try {
    input = parseManifestText(options.text);
  } catch (err) {
    if (err instanceof ManifestSyntaxError) throw new UsageError(err.message);
    throw err;
  }
  const validation = validateManifest(input);
  if (!validation.ok) {
    throw new UsageError(`the manifest is invalid; nothing was imported:\n${validation.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
  }
  const organizationId = await findOrganization(pool, options.org);
  const imported = await withTransaction(pool, async (client) => {
    const templateId = await ensureTemplate(client, organizationId, options.template);
    const result = await importTemplateVersion(client, { templateId, manifest: validation.value, createdBy: null, activate: options.activate });
    return { templateId, ...result };
  }).catch((err: unknown) => {
    if (err instanceof VersionExistsError) throw new UsageError(`${err.message}; nothing was imported`);
    throw err;
  });
  if (options.activate) await reconcileNow(config, imported.affectedPresetIds);
  return {
    templateId: imported.templateId,
    versionId: imported.versionId,
    versionName: validation.value.name,
    presets: validation.value.presets.length,
    warnings: validation.warnings,
    activated: options.activate,
  };
}

/** Best effort: if Redis is unreachable, the scheduler's next tick reconciles these presets anyway. */
async function reconcileNow(config: Config, presetIds: string[]): Promise<void> {
  const redis = createRedis(config.redis, { role: 'producer', name: 'warmpool-cli' });
  const queues = createQueueSet(redis, config.queuePrefix);
  try {
    await enqueueReconciles(queues.reconcile, presetIds, 'version-activated');
  } catch (err) {
    console.error(`warning: could not trigger reconciles now (${(err as Error).message}); the scheduler will pick them up`);
  } finally {
    await queues.close();
    redis.disconnect();
  }
}
