import { indexHistory, parseStoredAutoscaling, sizeTarget, type PoolState, type TargetSource } from '@warmpool/core';
import type { DemandSummary, PresetSnapshotRow } from '@warmpool/db';

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
export function sizePreset(row: PresetSnapshotRow, state: PoolState, now: Date, demand: Pick<DemandSummary, 'hourly' | 'recent' | 'observedSince' | 'leadTimeP95Seconds'> | null | undefined): SizingView {
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
