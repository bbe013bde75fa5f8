import { backoffUntil, nextDesiredChange } from '@warmpool/core';
import type { PresetSnapshotRow } from '@warmpool/db';
import { evaluatePreset, type EvaluationSettings } from './preset-view.js';

/** What operators see about one preset (SPEC §7 status), shared by the API and the CLI. */
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
  status: 'healthy' | 'hard_limited' | 'validation_failed';
  backoffUntil: string | null;
  nextScheduleChange: { at: string; instances: number } | null;
  scheduleError: string | null;
  paused: boolean;
};

export function presetStatus(row: PresetSnapshotRow, now: Date, settings: EvaluationSettings): PresetStatus {
  const view = evaluatePreset(row, now, settings);
  const { state } = view.plan;
  const until = backoffUntil(view.snapshot.backoff, settings.backoffIntervalMs);
  const change = nextDesiredChange(view.snapshot.preset, now);
  return {
    presetId: row.preset.id,
    organization: row.preset.organizationName,
    template: row.preset.templateName,
    version: row.preset.versionName,
    preset: row.preset.name,
    active: row.preset.usingActiveVersion && !row.preset.templateDeleted && !row.preset.templateDeprecated,
    desiredNow: state.desired,
    running: state.actual,
    eligible: state.eligible,
    starting: state.starting,
    expired: state.expired,
    failed: view.snapshot.backoff?.failures ?? 0,
    status: row.preset.status,
    backoffUntil: until && until >= now ? until.toISOString() : null,
    nextScheduleChange: change ? { at: change.at.toISOString(), instances: change.instances } : null,
    scheduleError: view.scheduleProblem,
    paused: row.paused,
  };
}
