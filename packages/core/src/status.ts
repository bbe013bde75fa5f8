import { evaluatePreset, type EvaluationSettings } from './evaluate.js';
import { backoffUntil, isActivePreset, isStagedPreset } from './plan.js';
import type { PresetRecord, PresetStatusName } from './record.js';
import { nextDesiredChange } from './schedule.js';
import type { PresetDemand } from './sizing/preset.js';
import type { TargetSource } from './sizing/target.js';
import { standbyStatus, type StandbyFacts, type StandbyStatus } from './standby.js';

/** What operators see about one preset (§7 status), shared by the API and the CLI. */
export type PresetStatus = {
  presetId: string;
  organization: string;
  template: string;
  version: string;
  preset: string;
  active: boolean;
  /** Warming in a staged rollout (BEHAVIOUR.md §4.7): reconciled like an active preset, never claimed. */
  staged: boolean;
  /** The staged rollout's deadline, for staged presets; else null. */
  rolloutDeadline: string | null;
  desiredNow: number;
  running: number;
  eligible: number;
  starting: number;
  expired: number;
  /** Failed builds within the backoff lookback that keep the preset backing off (0 when it is not). */
  failed: number;
  status: PresetStatusName;
  backoffUntil: string | null;
  nextScheduleChange: { at: string; instances: number } | null;
  scheduleError: string | null;
  paused: boolean;
  /** What decided desiredNow: the schedule, an expression, the schedule after an expression failed, a forecast. */
  targetSource: TargetSource;
  /** Why the autoscaling policy is not used now (expression error, unusable stored policy); null when fine. */
  autoscalingError: string | null;
  /** Forecast requests per hour (forecast policies past their cold start), else null. */
  forecastRate: number | null;
  /** Share of requests the pool served with a prebuild (null without requests in the window). */
  hitRate24h: number | null;
  hitRate7d: number | null;
  requests24h: number;
  /** Standby tiers (hot target, hot and frozen eligible prebuilds, degraded reason), null without tiers. */
  standby: StandbyStatus;
};

const ratio = (hits: number, requests: number) => (requests > 0 ? Math.round((hits / requests) * 10_000) / 10_000 : null);

/**
 * `demand`: the preset's demand summary (hit rates; sizing of autoscaled presets); absent means none recorded.
 * `tiers`: its standby facts (absent: no tiers).
 */
export function presetStatus(record: PresetRecord, now: Date, settings: EvaluationSettings, demand?: PresetDemand | null, tiers?: StandbyFacts): PresetStatus {
  const view = evaluatePreset(record, now, settings, demand);
  const { state } = view.plan;
  const until = backoffUntil(view.snapshot.backoff, settings.backoffIntervalMs);
  const change = nextDesiredChange(view.snapshot.preset, now);
  return {
    presetId: record.preset.id,
    organization: record.preset.organizationName,
    template: record.preset.templateName,
    version: record.preset.versionName,
    preset: record.preset.name,
    active: isActivePreset(view.snapshot.preset),
    staged: isStagedPreset(view.snapshot.preset),
    rolloutDeadline: isStagedPreset(view.snapshot.preset) ? (view.snapshot.rollout?.deadlineAt.toISOString() ?? null) : null,
    desiredNow: state.desired,
    running: state.actual,
    eligible: state.eligible,
    starting: state.starting,
    expired: state.expired,
    failed: view.snapshot.backoff?.failures ?? 0,
    status: record.preset.status,
    backoffUntil: until && until >= now ? until.toISOString() : null,
    nextScheduleChange: change ? { at: change.at.toISOString(), instances: change.instances } : null,
    scheduleError: view.scheduleProblem,
    paused: record.paused,
    targetSource: view.sizing.source,
    autoscalingError: view.sizing.error,
    forecastRate: view.sizing.forecastRate === null ? null : Math.round(view.sizing.forecastRate * 100) / 100,
    hitRate24h: ratio(demand?.hits24h ?? 0, demand?.requests24h ?? 0),
    hitRate7d: ratio(demand?.hits7d ?? 0, demand?.requests7d ?? 0),
    requests24h: demand?.requests24h ?? 0,
    standby: standbyStatus(tiers, state.desired),
  };
}
