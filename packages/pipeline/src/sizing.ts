import { desiredInstancesAt, indexHistory, parseStoredAutoscaling, sizeTarget, type PoolState, type ScheduleEntry, type TargetSource } from '@warmpool/core';
import { loadDemandSummaries, type DemandSummary, type Pool, type PoolRow, type PresetSnapshotRow } from '@warmpool/db';

/** How a preset's desired count was chosen now (pure; shown in the status as targetSource etc.). */
export type SizingView = {
  /** True when a usable autoscaling policy decides the target (else the schedule does). */
  autoscaled: boolean;
  target: number;
  source: TargetSource;
  /** Forecast requests per hour, when a forecast decided. */
  forecastRate: number | null;
  /** An expression's run-time error, or unusable stored policy data; null when fine. */
  error: string | null;
};

/** Whether the preset's stored policy needs demand data to be evaluated (the caller loads it only then). */
export function usesDemand(row: PresetSnapshotRow): boolean {
  return parseStoredAutoscaling(row.preset.autoscaling).policy !== null;
}

const EMPTY_DEMAND = { hourly: [], recent: [], observedSince: null, leadTimeP95Seconds: null };

/**
 * Sizes one preset from its stored policy and demand. `state` is the plan's pool state under the schedule
 * (`desired` = the scheduled target). Without a policy (or with unusable stored data) the schedule decides.
 */
export function sizePreset(
  row: { preset: Pick<PresetSnapshotRow['preset'], 'autoscaling' | 'timezone'> },
  state: PoolState,
  now: Date,
  demand: Pick<DemandSummary, 'hourly' | 'recent' | 'observedSince' | 'leadTimeP95Seconds'> | null | undefined,
): SizingView {
  const { policy, problem } = parseStoredAutoscaling(row.preset.autoscaling);
  if (!policy) return { autoscaled: false, target: state.desired, source: 'scheduled', forecastRate: null, error: problem };
  const d = demand ?? EMPTY_DEMAND;
  const result = sizeTarget({
    policy,
    scheduled: state.desired,
    now,
    timezone: row.preset.timezone,
    pool: { running: state.actual, eligible: state.eligible, starting: state.starting, stopping: state.stopping, deleting: state.deleting, expired: state.expired },
    recent: d.recent,
    history: indexHistory({ hourly: d.hourly, observedSince: d.observedSince }),
    measuredLeadTimeSeconds: d.leadTimeP95Seconds,
  });
  return { autoscaled: true, ...result };
}

/**
 * Desired count and target source of active pool rows (metrics, demo): the schedule, or the policy for autoscaled
 * presets (their demand read in one query). Pool rows lack stopping/deleting/expired counts: 0 for expressions.
 */
export async function sizePoolRows(pool: Pool, rows: readonly PoolRow[], now: Date): Promise<Map<string, SizingView>> {
  const autoscaled = rows.filter((r) => r.active && parseStoredAutoscaling(r.autoscaling).policy).map((r) => r.preset_id);
  const demand = new Map((await loadDemandSummaries(pool, autoscaled, now)).map((d) => [d.presetId, d]));
  const out = new Map<string, SizingView>();
  for (const r of rows) {
    if (!r.active) continue;
    const scheduled = desiredInstancesAt({ instances: r.instances, timezone: r.timezone, schedules: r.schedules as ScheduleEntry[] }, now);
    const state = { actual: r.running, desired: scheduled, expired: 0, eligible: r.eligible, extraneous: 0, starting: r.starting, stopping: 0, deleting: 0 };
    out.set(r.preset_id, sizePreset({ preset: r }, state, now, demand.get(r.preset_id)));
  }
  return out;
}
