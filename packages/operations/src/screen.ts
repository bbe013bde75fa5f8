import { evaluatePreset, needsReconcile, nextWakeAt, type EvaluationSettings } from '@warmpool/core';
import { loadPresetSnapshots, type Pool } from '@warmpool/db';

export type Screening = {
  /** Presets with something to write: they get a reconcile job. */
  toReconcile: string[];
  /** Converged presets whose plan will change by itself at `at` (boundary, TTL expiry, backoff end). */
  wakeUps: { presetId: string; at: Date }[];
  paused: boolean;
};

/**
 * Screens a batch of presets with one query: only presets whose plan has writes (or whose stored-schedule
 * problem changed) need a reconcile job; the rest are converged. This is what lets a periodic tick cover
 * thousands of presets cheaply, while the per-preset job stays the unit of work and of mutual exclusion.
 */
export async function screenPresets(pool: Pool, presetIds: readonly string[], now: Date, settings: EvaluationSettings): Promise<Screening> {
  const rows = await loadPresetSnapshots(pool, presetIds);
  const screening: Screening = { toReconcile: [], wakeUps: [], paused: rows.some((r) => r.paused) };
  if (screening.paused) return screening;
  for (const row of rows) {
    const view = evaluatePreset(row, now, settings);
    if (needsReconcile(view, row.preset.scheduleError)) {
      screening.toReconcile.push(row.preset.id);
      continue;
    }
    const at = nextWakeAt(view.snapshot, { now, backoffIntervalMs: settings.backoffIntervalMs });
    if (at) screening.wakeUps.push({ presetId: row.preset.id, at });
  }
  return screening;
}
