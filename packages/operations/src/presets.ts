import { desiredTimeline, FREEZE_CAPABILITY, parseStoredSchedules, presetStatus, type EvaluationSettings, type PresetStatus, type StandbyFacts } from '@warmpool/core';
import { DomainError } from '@warmpool/contracts';
import {
  invalidatePreset as storeInvalidation,
  listActivePresetIds,
  loadDemandSummaries,
  loadPresetSnapshot,
  loadPresetSnapshots,
  provisionersDeclare,
  resumePreset as storeResume,
  standbyCounts,
  setPaused,
  type Pool,
} from '@warmpool/db';
import type { TriggerReconciles } from './reconciles.js';

/** The longest schedule preview (§7). */
export const MAX_PREVIEW_DAYS = 31;
const DAY_MS = 86_400_000;
const STATUS_BATCH = 500;

/** Status of one preset (§7), or undefined when there is no such preset. */
export async function presetStatusOf(pool: Pool, settings: EvaluationSettings, presetId: string, now = new Date()): Promise<PresetStatus | undefined> {
  const record = await loadPresetSnapshot(pool, presetId);
  if (!record) return undefined;
  // Demand: hit rates for every preset, the sizing of autoscaled ones (one more query).
  const [demand] = await loadDemandSummaries(pool, [presetId], now);
  const tiers = await standbyFacts(pool, [presetId]);
  return presetStatus(record, now, settings, demand, tiers.get(presetId));
}

/** The standby facts of presets (tiers, counts per tier, whether every live provisioner can freeze). */
async function standbyFacts(pool: Pool, presetIds: readonly string[]): Promise<Map<string, StandbyFacts>> {
  const counts = await standbyCounts(pool, presetIds);
  const withTiers = [...counts].filter(([, c]) => c.standby !== null);
  if (withTiers.length === 0) return new Map();
  const capable = await provisionersDeclare(pool, FREEZE_CAPABILITY);
  return new Map(withTiers.map(([id, c]) => [id, { ...c, capable }]));
}

/**
 * Status of every active preset, optionally of one organization (by id or name), ordered by organization, template
 * and preset name; one snapshot query per batch of presets.
 */
export async function activePresetStatuses(
  pool: Pool,
  settings: EvaluationSettings,
  filter: { organizationId?: string; organizationName?: string } = {},
  options: { now?: Date; onProgress?: (done: number, total: number) => void } = {},
): Promise<PresetStatus[]> {
  const ids = await listActivePresetIds(pool, filter);
  const now = options.now ?? new Date();
  const out: PresetStatus[] = [];
  for (let i = 0; i < ids.length; i += STATUS_BATCH) {
    const batch = ids.slice(i, i + STATUS_BATCH);
    const records = await loadPresetSnapshots(pool, batch);
    const demand = new Map((await loadDemandSummaries(pool, batch, now)).map((d) => [d.presetId, d]));
    const tiers = await standbyFacts(pool, batch);
    out.push(...records.map((record) => presetStatus(record, now, settings, demand.get(record.preset.id), tiers.get(record.preset.id))));
    options.onProgress?.(Math.min(i + STATUS_BATCH, ids.length), ids.length);
  }
  return out;
}

/**
 * The desired-count timeline of a preset from `from` to `to` (at most MAX_PREVIEW_DAYS), from its stored schedules.
 * Throws `validation_failed` for a bad window and `not_found` for an unknown preset.
 */
export async function previewSchedule(pool: Pool, input: { presetId: string; from: Date; to: Date }): Promise<{ at: string; instances: number }[]> {
  const { from, to } = input;
  if (to <= from) throw new DomainError('validation_failed', '`to` must be after `from`', [{ path: 'querystring.to', message: 'must be after from' }]);
  if (to.getTime() - from.getTime() > MAX_PREVIEW_DAYS * DAY_MS) {
    throw new DomainError('validation_failed', `the window is at most ${MAX_PREVIEW_DAYS} days`, [{ path: 'querystring.to', message: `window longer than ${MAX_PREVIEW_DAYS} days` }]);
  }
  const record = await loadPresetSnapshot(pool, input.presetId);
  if (!record) throw new DomainError('not_found', 'preset not found');
  const { preset } = record;
  const schedule = { instances: preset.instances, timezone: preset.timezone, schedules: parseStoredSchedules(preset.schedules).schedules };
  return desiredTimeline(schedule, from, to).map((p) => ({ at: p.at.toISOString(), instances: p.instances }));
}

/** Pauses or resumes reconciliation site-wide (§4.5). */
export async function setReconciliationPaused(deps: { pool: Pool; logger?: { info(obj: object, msg: string): void } | undefined }, paused: boolean): Promise<void> {
  await setPaused(deps.pool, paused);
  deps.logger?.info({ paused }, 'site-wide reconciliation pause changed');
}

/** Operator resume (§4.3): the preset is healthy again, earlier failures stop counting, and it is reconciled. */
export async function resumePreset(deps: { pool: Pool; reconcile: TriggerReconciles }, presetId: string): Promise<void> {
  await storeResume(deps.pool, presetId);
  await deps.reconcile([presetId], 'preset-resumed');
}

/** Invalidation: every current prebuild of the preset counts as expired and is replaced. Returns the instant. */
export async function invalidatePreset(deps: { pool: Pool; reconcile: TriggerReconciles }, presetId: string): Promise<Date> {
  const at = await storeInvalidation(deps.pool, presetId);
  await deps.reconcile([presetId], 'preset-invalidated');
  return at;
}
