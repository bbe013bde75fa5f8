import { nextWakeAt, type EvaluationSettings } from '@warmpool/core';
import { loadPresetSnapshots, type Pool } from '@warmpool/db';
import { loadDemand, planPresetWrites } from './reconcile.js';

export type Screening = {
  /** Presets with something to write: they get a reconcile job. */
  toReconcile: string[];
  /** Converged presets whose plan will change by itself at `at` (boundary, TTL expiry, backoff end). */
  wakeUps: { presetId: string; at: Date }[];
  paused: boolean;
};

/**
 * Screens a batch of presets with one query: only presets with something to write (core planWrites, the reconcile's
 * own rule: pool writes, a transition, a changed schedule or autoscaling problem) need a reconcile job; the rest are
 * converged. This is what lets a periodic tick cover thousands of presets cheaply; the reconcile job stays the unit
 * of work, and the preset row lock the unit of mutual exclusion.
 */
export async function screenPresets(pool: Pool, presetIds: readonly string[], now: Date, settings: EvaluationSettings): Promise<Screening> {
  const rows = await loadPresetSnapshots(pool, presetIds);
  const screening: Screening = { toReconcile: [], wakeUps: [], paused: rows.some((r) => r.paused) };
  if (screening.paused) return screening;
  // Autoscaled presets of the batch are sized from their demand: one more query per batch, only when there are any.
  const demand = await loadDemand(pool, rows, now);
  for (const row of rows) {
    // The reconcile's own rule: a preset with anything to write gets a job.
    const { view, writes } = planPresetWrites(row, now, settings, demand);
    if (writes.length > 0) {
      screening.toReconcile.push(row.preset.id);
      continue;
    }
    const at = nextWakeAt(view.snapshot, { now, backoffIntervalMs: settings.backoffIntervalMs });
    if (at) screening.wakeUps.push({ presetId: row.preset.id, at });
  }
  return screening;
}
