import {
  backoffWindow,
  computeBackoff,
  describeScheduleProblem,
  desiredInstancesAt,
  failureLimitReached,
  gateActions,
  planPreset,
  type Action,
  type Plan,
  type PresetSnapshot,
  type ScheduleEntry,
} from '@warmpool/core';
import type { DemandSummary, PresetSnapshotRow } from '@warmpool/db';
import { sizePreset, type SizingView } from './sizing.js';

/** Settings that shape a preset's evaluation (a subset of the runtime Config). */
export type EvaluationSettings = {
  backoffIntervalMs: number;
  backoffLookbackMs: number;
  failureHardLimit: number;
};

/** What the reconciler concludes from one snapshot at one instant: pure, no I/O. */
export type PresetView = {
  snapshot: PresetSnapshot;
  plan: Plan;
  desiredNow: number;
  /** Plan after the execution gates (§4.2.4); `backoff` actions dropped: only writes remain. */
  writes: Action[];
  /** The stored-data problem to show operators, or null when the schedules are usable. */
  scheduleProblem: string | null;
  /** True when the failure limit is reached and the preset is still healthy: a transition is due. */
  hardLimitDue: boolean;
  /** Where the desired count came from (schedule, expression, forecast). */
  sizing: SizingView;
};

function isScheduleEntry(value: unknown): value is ScheduleEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.cron === 'string' && Number.isInteger(v.instances) && (v.instances as number) >= 0;
}

/** Stored schedules are JSON; anything not shaped like `[{ cron, instances }]` is a problem, not a crash. */
function parseStoredSchedules(raw: unknown): { schedules: ScheduleEntry[]; problem: string | null } {
  if (raw === null || raw === undefined) return { schedules: [], problem: null };
  if (!Array.isArray(raw)) return { schedules: [], problem: 'stored schedules are not a list' };
  const bad = raw.findIndex((e) => !isScheduleEntry(e));
  if (bad >= 0) return { schedules: [], problem: `stored schedule ${bad} is not { cron, instances }` };
  return { schedules: raw as ScheduleEntry[], problem: null };
}

export function toCoreSnapshot(row: PresetSnapshotRow, now: Date, settings: EvaluationSettings): { snapshot: PresetSnapshot; scheduleProblem: string | null } {
  const stored = parseStoredSchedules(row.preset.schedules);
  const preset: PresetSnapshot['preset'] = {
    id: row.preset.id,
    instances: row.preset.instances,
    usingActiveVersion: row.preset.usingActiveVersion,
    templateDeleted: row.preset.templateDeleted,
    templateDeprecated: row.preset.templateDeprecated,
    ttlSeconds: row.preset.ttlSeconds,
    timezone: row.preset.timezone,
    schedules: stored.schedules,
  };
  const scheduleProblem = stored.problem ?? (preset.schedules.length > 0 ? describeScheduleProblem(preset) : null);
  const backoff = computeBackoff(row.population, { now, lookbackMs: settings.backoffLookbackMs, window: backoffWindow(preset, now) });
  return {
    snapshot: {
      preset,
      running: row.running,
      inProgress: row.inProgress,
      backoff,
      hardLimited: row.preset.status === 'hard_limited',
    },
    scheduleProblem,
  };
}

/**
 * `demand` is needed only by presets with an autoscaling policy (see usesDemand); without it such a preset is
 * sized as if nothing had been requested.
 */
export function evaluatePreset(row: PresetSnapshotRow, now: Date, settings: EvaluationSettings, demand?: DemandSummary | null): PresetView {
  const { snapshot, scheduleProblem } = toCoreSnapshot(row, now, settings);
  const options = { now, backoffIntervalMs: settings.backoffIntervalMs };
  const scheduledPlan = planPreset(snapshot, options);
  // The policy reads the pool counts of the plan; then the plan is made again with the policy's target.
  const sizing = sizePreset(row, scheduledPlan.state, now, demand);
  if (sizing.autoscaled) snapshot.target = sizing.target;
  const plan = sizing.autoscaled ? planPreset(snapshot, options) : scheduledPlan;
  const desiredNow = snapshot.target ?? desiredInstancesAt(snapshot.preset, now);
  const hardLimitDue = row.preset.status === 'healthy' && failureLimitReached(row.population, settings.failureHardLimit);
  const writes = gateActions(plan.actions, {
    hardLimited: snapshot.hardLimited || hardLimitDue,
    validationFailed: row.preset.status === 'validation_failed',
    desiredNow,
  }).filter((a: Action) => a.type !== 'backoff' && !(a.type === 'create' && a.count <= 0) && !(a.type === 'delete' && a.ids.length === 0));
  return { snapshot, plan, desiredNow, writes, scheduleProblem, hardLimitDue, sizing };
}

/** True when the reconcile must open a transaction (anything beyond backoff or nothing). */
export function needsWrites(view: PresetView): boolean {
  return view.hardLimitDue || view.writes.length > 0;
}
