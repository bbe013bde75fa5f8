import { evaluatePreset, type EvaluationSettings } from './evaluate.js';
import { backoffUntil, isActivePreset } from './plan.js';
import type { PresetRecord, PresetStatusName } from './record.js';
import { nextDesiredChange } from './schedule.js';

/** What operators see about one preset (§7 status), shared by the API and the CLI. */
export type PresetStatus = {
  presetId: string;
  organization: string;
  template: string;
  version: string;
  preset: string;
  active: boolean;
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
};

export function presetStatus(record: PresetRecord, now: Date, settings: EvaluationSettings): PresetStatus {
  const view = evaluatePreset(record, now, settings);
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
  };
}
