import { backoffWindow, computeBackoff, failureLimitReached } from './backoff.js';
import { gateActions, planPreset } from './plan.js';
import type { PresetRecord } from './record.js';
import { describeScheduleProblem, desiredInstancesAt } from './schedule.js';
import { sizePreset, type PresetDemand, type SizingView } from './sizing/preset.js';
import type { Action, Plan, PresetSnapshot, ScheduleEntry } from './types.js';

/** Settings that shape a preset's evaluation (a subset of the runtime Config). */
export type EvaluationSettings = {
  backoffIntervalMs: number;
  backoffLookbackMs: number;
  failureHardLimit: number;
};

/** What one preset record means at one instant: pure, no I/O. */
export type PresetView = {
  snapshot: PresetSnapshot;
  plan: Plan;
  /**
   * The count the preset wants now if it is active (schedule or autoscaling target): the create gate. Not the
   * preset's desired count, which is plan.state.desired (0 when inactive; PresetStatus.desiredNow).
   */
  desiredIfActive: number;
  /** Plan after the execution gates (§4.2.4); `backoff` actions dropped: only writes remain. */
  writes: Action[];
  /** The stored-data problem to show operators, or null when the schedules are usable. */
  scheduleProblem: string | null;
  /** When the failure limit is reached and the preset is still healthy (a transition is due): the failures; else null. */
  hardLimitDue: { failures: number; lastError: string | null } | null;
  /** Where the desired count came from (schedule, expression, forecast; docs/SIZING.md). */
  sizing: SizingView;
};

function isScheduleEntry(value: unknown): value is ScheduleEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.cron === 'string' && Number.isInteger(v.instances) && (v.instances as number) >= 0;
}

/** Stored schedules are JSON; anything not shaped like `[{ cron, instances }]` is a problem, not a crash. */
export function parseStoredSchedules(raw: unknown): { schedules: ScheduleEntry[]; problem: string | null } {
  if (raw === null || raw === undefined) return { schedules: [], problem: null };
  if (!Array.isArray(raw)) return { schedules: [], problem: 'stored schedules are not a list' };
  const bad = raw.findIndex((e) => !isScheduleEntry(e));
  if (bad >= 0) return { schedules: [], problem: `stored schedule ${bad} is not { cron, instances }` };
  return { schedules: raw as ScheduleEntry[], problem: null };
}

/** Desired instances at `at` from stored preset fields (metrics, demo): the same rule as the evaluation. */
export function storedDesiredInstances(preset: { instances: number; timezone: string; schedules: unknown }, at: Date): number {
  return desiredInstancesAt({ instances: preset.instances, timezone: preset.timezone, schedules: parseStoredSchedules(preset.schedules).schedules }, at);
}

/** The planner's input and the stored-schedule problem of a record (backoff computed from its population). */
export function toCoreSnapshot(record: PresetRecord, now: Date, settings: EvaluationSettings): { snapshot: PresetSnapshot; scheduleProblem: string | null } {
  const stored = parseStoredSchedules(record.preset.schedules);
  const preset: PresetSnapshot['preset'] = {
    id: record.preset.id,
    instances: record.preset.instances,
    usingActiveVersion: record.preset.usingActiveVersion,
    templateDeleted: record.preset.templateDeleted,
    templateDeprecated: record.preset.templateDeprecated,
    ttlSeconds: record.preset.ttlSeconds,
    timezone: record.preset.timezone,
    schedules: stored.schedules,
  };
  const scheduleProblem = stored.problem ?? (preset.schedules.length > 0 ? describeScheduleProblem(preset) : null);
  const backoff = computeBackoff(record.population, { now, lookbackMs: settings.backoffLookbackMs, window: backoffWindow(preset, now) });
  return {
    snapshot: { preset, running: record.running, inProgress: record.inProgress, backoff, hardLimited: record.preset.status === 'hard_limited' },
    scheduleProblem,
  };
}

/**
 * `demand` is needed only by presets with an autoscaling policy (`usesDemand`); without it such a preset is sized
 * as if nothing had been requested. The policy reads the pool counts of the schedule's plan; the plan is then made
 * again with the policy's target.
 */
export function evaluatePreset(record: PresetRecord, now: Date, settings: EvaluationSettings, demand?: PresetDemand | null): PresetView {
  const { snapshot, scheduleProblem } = toCoreSnapshot(record, now, settings);
  const options = { now, backoffIntervalMs: settings.backoffIntervalMs };
  const scheduledPlan = planPreset(snapshot, options);
  const sizing = sizePreset(record.preset, scheduledPlan.state, now, demand);
  if (sizing.autoscaled) snapshot.target = sizing.target;
  const plan = sizing.autoscaled ? planPreset(snapshot, options) : scheduledPlan;
  const desiredIfActive = snapshot.target ?? desiredInstancesAt(snapshot.preset, now);
  const limitReached = record.preset.status === 'healthy' && failureLimitReached(record.population, settings.failureHardLimit);
  const hardLimitDue = limitReached ? { failures: settings.failureHardLimit, lastError: record.population[0]?.error ?? null } : null;
  const writes = gateActions(plan.actions, {
    hardLimited: snapshot.hardLimited || limitReached,
    validationFailed: record.preset.status === 'validation_failed',
    desiredIfActive,
  }).filter((a: Action) => a.type !== 'backoff' && !(a.type === 'create' && a.count <= 0) && !(a.type === 'delete' && a.ids.length === 0));
  return { snapshot, plan, desiredIfActive, writes, scheduleProblem, hardLimitDue, sizing };
}
