import type { PresetView } from './evaluate.js';
import type { ParameterDeclaration } from './manifest.js';
import { resolveBuildParameters } from './parameters.js';
import type { PresetRecord, PresetStatusName } from './record.js';

/** Longest error text carried by a notice (the event contract's bound). */
export const NOTICE_TEXT_LIMIT = 4096;

export type Notice =
  | { event: 'preset-hard-limited'; failures: number; lastError: string | null }
  | { event: 'preset-validation-failed'; error: string };

/**
 * One thing a reconcile writes for one preset. Problem records are conditional updates that need no lock; every
 * other write is made under the preset's row lock (`needsPresetLock`).
 */
export type Write =
  /** Store the preset's current schedule or autoscaling problem (null clears it) for operators. */
  | { type: 'record-problem'; problem: 'schedule' | 'autoscaling'; text: string | null }
  /** Move a healthy preset to a failed status. */
  | { type: 'transition'; status: Exclude<PresetStatusName, 'healthy'>; reason: string }
  /** Announce the transition listed before it; sent only when this reconcile made it (another may have). */
  | { type: 'notice'; notice: Notice }
  /** Request a delete build for each of these running prebuilds. */
  | { type: 'delete'; ids: string[] }
  /** Create up to `count` prebuilds (the in-flight cap may allow fewer); `level` is the fair-share position. */
  | { type: 'create'; count: number; level: number; parameters: Record<string, string> }
  /** Record a build request that can never be created (backoff and the failure limit then apply to it). */
  | { type: 'failed-request'; parameters: Record<string, string>; error: string };

/**
 * What a reconcile of this preset writes, given its view at one instant (BEHAVIOUR.md §4, §6.2): the one rule
 * behind the tick's screening (an empty list: converged) and the reconcile executor. Pure.
 */
export function planWrites(record: PresetRecord, view: PresetView): Write[] {
  const writes: Write[] = [];
  if (view.scheduleProblem !== record.preset.scheduleError) writes.push({ type: 'record-problem', problem: 'schedule', text: view.scheduleProblem });
  if (view.sizing.error !== record.preset.autoscalingError) writes.push({ type: 'record-problem', problem: 'autoscaling', text: view.sizing.error });
  if (view.hardLimitDue) {
    const { failures, lastError } = view.hardLimitDue;
    writes.push(
      { type: 'transition', status: 'hard_limited', reason: `the newest ${failures} builds failed` },
      { type: 'notice', notice: { event: 'preset-hard-limited', failures, lastError: truncate(lastError) } },
    );
  }
  const deleteIds = view.writes.flatMap((a) => (a.type === 'delete' ? a.ids : []));
  if (deleteIds.length > 0) writes.push({ type: 'delete', ids: deleteIds });
  const wanted = createsWanted(view);
  if (wanted === 0) return writes;
  const declarations = Array.isArray(record.preset.declarations) ? (record.preset.declarations as ParameterDeclaration[]) : [];
  const resolved = resolveBuildParameters(declarations, record.preset.parameters);
  if (resolved.ok) {
    writes.push({ type: 'create', count: wanted, level: Math.max(0, view.desiredIfActive - wanted), parameters: resolved.parameters });
    return writes;
  }
  writes.push(
    { type: 'failed-request', parameters: record.preset.parameters, error: resolved.error },
    { type: 'transition', status: 'validation_failed', reason: resolved.error },
    { type: 'notice', notice: { event: 'preset-validation-failed', error: truncate(resolved.error) ?? '' } },
  );
  return writes;
}

/** True when a write needs the preset's row lock: anything beyond recording a problem. */
export function needsPresetLock(writes: readonly Write[]): boolean {
  return writes.some((w) => w.type !== 'record-problem');
}

/** Prebuilds the plan wants created now (before the in-flight cap). */
function createsWanted(view: PresetView): number {
  return view.writes.reduce((n, a) => (a.type === 'create' ? n + a.count : n), 0);
}

function truncate(text: string | null): string | null {
  return text === null ? null : text.slice(0, NOTICE_TEXT_LIMIT);
}
