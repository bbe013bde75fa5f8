import { sizePreset, storedDesiredInstances, usesDemand, type SizingView } from '@warmpool/core';
import { loadDemandSummaries, type Pool, type PoolRow } from '@warmpool/db';

/**
 * Desired count and target source of the active pool rows (metrics, demo): the schedule, or the policy for
 * autoscaled presets, whose demand is read in one query. Pool rows lack stopping/deleting/expired counts, so an
 * expression reads 0 for them here (the reconciler has them).
 */
export async function sizePoolRows(pool: Pool, rows: readonly PoolRow[], now: Date): Promise<Map<string, SizingView>> {
  const autoscaled = rows.filter((r) => r.active && usesDemand(r.autoscaling)).map((r) => r.preset_id);
  const demand = new Map((await loadDemandSummaries(pool, autoscaled, now)).map((d) => [d.presetId, d]));
  const out = new Map<string, SizingView>();
  for (const r of rows) {
    if (!r.active) continue;
    const state = { actual: r.running, desired: storedDesiredInstances(r, now), expired: 0, eligible: r.eligible, extraneous: 0, starting: r.starting, stopping: 0, deleting: 0 };
    out.set(r.preset_id, sizePreset(r, state, now, demand.get(r.preset_id)));
  }
  return out;
}
