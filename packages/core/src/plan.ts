import { desiredInstancesAt, nextDesiredChange } from './schedule.js';
import type { Action, Plan, PlanOptions, PresetSnapshot } from './types.js';

type Running = PresetSnapshot['running'][number];

/** Oldest first: ascending createdAt, ties by ascending id in code-unit order (not locale order). */
export function compareOldestFirst(a: Running, b: Running): number {
  const byTime = a.createdAt.getTime() - b.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Ids are primary keys: a repeated entry (a caller's join gone wrong) is one prebuild, never deleted twice. */
function uniqueById(sorted: Running[]): Running[] {
  const seen = new Set<string>();
  return sorted.filter((p) => (seen.has(p.id) ? false : (seen.add(p.id), true)));
}

/** Active = its version is the template's active one and the template is neither deleted nor deprecated. */
export function isActivePreset(preset: PresetSnapshot['preset']): boolean {
  return preset.usingActiveVersion && !preset.templateDeleted && !preset.templateDeprecated;
}

/** Expired: invalidated by an operator, or ttl > 0 and age strictly greater than ttl seconds. */
export function isExpired(prebuild: Running, ttlSeconds: number | null, now: Date): boolean {
  if (prebuild.invalidated) return true;
  return ttlSeconds !== null && ttlSeconds > 0 && now.getTime() - prebuild.createdAt.getTime() > ttlSeconds * 1000;
}

/** End of the backoff period: newest failure + failures × interval; null without failures. */
export function backoffUntil(backoff: PresetSnapshot['backoff'], backoffIntervalMs: number): Date | null {
  if (!backoff || backoff.failures <= 0) return null;
  return new Date(backoff.newestFailureAt.getTime() + backoff.failures * backoffIntervalMs);
}

/**
 * What must happen to one preset's pool at `now` (BEHAVIOUR.md §4.1–§4.2): the state and the ordered actions.
 * Execution gates (hard limit, validation failure, create ≤ desired) are applied separately by `gateActions`.
 */
export function planPreset(snapshot: PresetSnapshot, options: PlanOptions): Plan {
  const { preset } = snapshot;
  const { now } = options;
  const active = isActivePreset(preset);
  const running = uniqueById([...snapshot.running].sort(compareOldestFirst));
  const expiredIds = new Set(running.filter((p) => isExpired(p, preset.ttlSeconds, now)).map((p) => p.id));
  const inProgress = (transition: 'start' | 'stop' | 'delete') =>
    snapshot.inProgress.filter((e) => e.transition === transition).reduce((sum, e) => sum + e.count, 0);

  const actual = running.length;
  const expired = expiredIds.size;
  const desired = active ? (snapshot.target ?? desiredInstancesAt(preset, now)) : 0;
  const state = {
    actual,
    desired,
    expired,
    eligible: active ? running.filter((p) => !expiredIds.has(p.id) && p.ready).length : 0,
    extraneous: active ? Math.max(actual - expired - desired, 0) : 0,
    starting: inProgress('start'),
    stopping: inProgress('stop'),
    deleting: inProgress('delete'),
  };

  const until = backoffUntil(snapshot.backoff, options.backoffIntervalMs);
  if (until && now.getTime() <= until.getTime()) return { state, actions: [{ type: 'backoff', until }] };

  const actions: Action[] = [];
  if (!active) {
    if (actual > 0) actions.push({ type: 'delete', ids: running.map((p) => p.id), reason: 'inactive' });
    return { state, actions };
  }
  if (expired > 0) actions.push({ type: 'delete', ids: running.filter((p) => expiredIds.has(p.id)).map((p) => p.id), reason: 'expired' });
  if (state.extraneous > 0) {
    const victims = running.filter((p) => !expiredIds.has(p.id)).slice(0, state.extraneous);
    actions.push({ type: 'delete', ids: victims.map((p) => p.id), reason: 'extraneous' });
  }
  // Only `starting` reduces creation: a prebuild being stopped or deleted will never be claimable.
  const create = Math.max(desired - (actual - expired) - state.starting, 0);
  if (create > 0) actions.push({ type: 'create', count: create });
  return { state, actions };
}

/**
 * Execution gates (BEHAVIOUR.md §4.2): a hard-limited or validation-failed preset creates nothing (deletes still run),
 * and a create is never larger than the count the preset wants now if active.
 */
export function gateActions(actions: Action[], gates: { hardLimited: boolean; validationFailed: boolean; desiredIfActive: number }): Action[] {
  return actions.flatMap((action): Action[] => {
    if (action.type !== 'create') return [action];
    if (gates.hardLimited || gates.validationFailed) return [];
    const count = Math.min(action.count, Math.max(gates.desiredIfActive, 0));
    return count > 0 ? [{ type: 'create', count }] : [];
  });
}

/** An autoscaled target moves with demand windows and forecast hours: look again this often without events. */
export const AUTOSCALED_RECHECK_MS = 60_000;

/**
 * The earliest future instant at which the plan can change with no other event: the next desired-count change
 * (active presets only; within nextDesiredChange's 8-day horizon), the first instant a running prebuild is strictly
 * past its TTL, or the first instant after backoff ends. The plan is constant from `now` until then, except for
 * autoscaled presets (`target` set), which are re-checked every AUTOSCALED_RECHECK_MS.
 */
export function nextWakeAt(snapshot: PresetSnapshot, options: PlanOptions): Date | null {
  const now = options.now.getTime();
  const candidates: number[] = [];
  // An inactive preset wants 0 whatever its schedules say, so their boundaries change nothing for it.
  const change = isActivePreset(snapshot.preset) ? nextDesiredChange(snapshot.preset, options.now) : null;
  if (change) candidates.push(change.at.getTime());
  if (snapshot.target !== undefined && isActivePreset(snapshot.preset)) candidates.push(now + AUTOSCALED_RECHECK_MS);
  const ttl = snapshot.preset.ttlSeconds;
  if (ttl !== null && ttl > 0) {
    for (const p of snapshot.running) {
      const expiresAt = p.createdAt.getTime() + ttl * 1000 + 1;
      if (!p.invalidated && expiresAt > now) candidates.push(expiresAt);
    }
  }
  const until = backoffUntil(snapshot.backoff, options.backoffIntervalMs);
  if (until && until.getTime() + 1 > now) candidates.push(until.getTime() + 1);
  return candidates.length ? new Date(Math.min(...candidates)) : null;
}
