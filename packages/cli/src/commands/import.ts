import { readFile } from 'node:fs/promises';
import { createQueueSet, createRedis, enqueueReconciles } from '@warmpool/bus';
import { DomainError } from '@warmpool/contracts';
import { TEMPLATE_NAME_PATTERN, type Pool } from '@warmpool/db';
import { checkManifest, importVersion, type RolloutOptions } from '@warmpool/operations';
import type { Config } from '@warmpool/runtime';
import { UsageError } from '../output.js';
import { findOrganization } from './bootstrap.js';

export type ImportResult = {
  templateId: string;
  versionId: string;
  versionName: string;
  presets: number;
  warnings: string[];
  activated: boolean;
  /** The staged rollout started with the import (`--staged`), or null. */
  rollout: { id: string; surge: string; surgeBuilds: number; deadlineAt: string } | null;
};

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
export async function importManifestFile(
  pool: Pool,
  config: Config,
  options: { text: string; org: string; template: string; activate: boolean; staged?: RolloutOptions | undefined },
): Promise<ImportResult> {
  if (options.activate && options.staged) throw new UsageError('--activate and --staged exclude each other: a version is activated at once or staged');
  if (!TEMPLATE_NAME.test(options.template)) {
    throw new UsageError(`template name ${JSON.stringify(options.template)}: use lowercase letters, digits, - and _ (max 63); choose one with --template`);
  }
  try {
    checkManifest(options.text); // a bad file is reported before the organization is looked up
    const organizationId = await findOrganization(pool, options.org);
    const result = await importVersion(
      { pool, reconcile: (presetIds, trigger) => reconcileNow(config, presetIds, trigger) },
      { template: { organizationId, name: options.template }, manifest: options.text, createdBy: null, activate: options.activate, rollout: options.staged },
    );
    return {
      templateId: result.templateId,
      versionId: result.versionId,
      versionName: result.versionName,
      presets: result.presets.length,
      warnings: result.warnings,
      activated: result.activated,
      rollout: result.rollout ? { id: result.rollout.id, surge: result.rollout.surge, surgeBuilds: result.rollout.surgeBuilds, deadlineAt: result.rollout.deadlineAt.toISOString() } : null,
    };
  } catch (err) {
    throw usageErrorFor(err);
  }
}

// The rollout options' fields as the CLI names them (the operation names them as the HTTP API receives them).
const CLI_FLAGS: Record<string, string> = { 'querystring.surge': '--surge', 'querystring.deadline_seconds': '--deadline' };

/** Domain errors become usage errors (exit code 2) worded for a file import. */
export function usageErrorFor(err: unknown): unknown {
  if (!(err instanceof DomainError)) return err;
  if (err.code === 'invalid_manifest' && err.details.length > 0) {
    return new UsageError(`the manifest is invalid; nothing was imported:\n${err.details.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
  }
  if (err.code === 'validation_failed' && err.details.length > 0) {
    return new UsageError(`${err.message}:\n${err.details.map((e) => `  ${CLI_FLAGS[e.path] ?? e.path}: ${e.message}`).join('\n')}`);
  }
  if (err.code === 'conflict') return new UsageError(`${err.message}; nothing was imported`);
  return new UsageError(err.message);
}

/** Best effort: if Redis is unreachable, the scheduler's next tick reconciles these presets anyway. */
export async function reconcileNow(config: Config, presetIds: readonly string[], trigger: string): Promise<void> {
  const redis = createRedis(config.redis, { role: 'producer', name: 'warmpool-cli' });
  const queues = createQueueSet(redis, config.queuePrefix);
  try {
    await enqueueReconciles(queues.reconcile, presetIds, trigger);
  } catch (err) {
    console.error(`warning: could not trigger reconciles now (${(err as Error).message}); the scheduler will pick them up`);
  } finally {
    await queues.close();
    redis.disconnect();
  }
}
