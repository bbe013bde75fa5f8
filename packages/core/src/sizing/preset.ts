/** Sizing of one stored preset: its stored policy over its demand summary (pure; used by evaluatePreset). */
import type { PoolState } from '../types.js';
import type { DemandBucket } from './forecast.js';
import { indexHistory } from './forecast.js';
import { parseStoredAutoscaling } from './policy.js';
import { sizeTarget, type DemandEvent, type TargetSource } from './target.js';

/** What the database knows about a preset's demand (packages/db `loadDemandSummaries` answers this shape). */
export type PresetDemand = {
  hourly: DemandBucket[];
  recent: DemandEvent[];
  observedSince: Date | null;
  leadTimeP95Seconds: number | null;
  requests24h: number;
  hits24h: number;
  requests7d: number;
  hits7d: number;
};

/** How a preset's desired count was chosen now (shown in the status as targetSource etc.). */
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

/** Whether a stored fragment holds a usable policy, i.e. the caller must load the preset's demand. */
export function usesDemand(storedAutoscaling: unknown): boolean {
  return parseStoredAutoscaling(storedAutoscaling).policy !== null;
}

/**
 * Sizes one preset from its stored policy and demand. `state` is the plan's pool state under the schedule
 * (`desired` = the scheduled target). Without a policy (or with unusable stored data) the schedule decides.
 * Without demand, an autoscaled preset is sized as if nothing had been requested.
 */
export function sizePreset(
  preset: { autoscaling: unknown; timezone: string },
  state: PoolState,
  now: Date,
  demand: Pick<PresetDemand, 'hourly' | 'recent' | 'observedSince' | 'leadTimeP95Seconds'> | null | undefined,
): SizingView {
  const { policy, problem } = parseStoredAutoscaling(preset.autoscaling);
  if (!policy) return { autoscaled: false, target: state.desired, source: 'scheduled', forecastRate: null, error: problem };
  const result = sizeTarget({
    policy,
    scheduled: state.desired,
    now,
    timezone: preset.timezone,
    pool: { running: state.actual, eligible: state.eligible, starting: state.starting, stopping: state.stopping, deleting: state.deleting, expired: state.expired },
    recent: demand?.recent ?? [],
    history: indexHistory({ hourly: demand?.hourly ?? [], observedSince: demand?.observedSince ?? null }),
    measuredLeadTimeSeconds: demand?.leadTimeP95Seconds ?? null,
  });
  return { autoscaled: true, ...result };
}
