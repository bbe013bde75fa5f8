/**
 * Standby tiers of a preset (`prebuilds.standby` in the manifest; BEHAVIOUR.md §4.6): of the eligible prebuilds,
 * `hot` keep running and the rest are frozen (a provisioner's `freeze` capability, e.g. `docker pause`). Pure: the
 * reconciler reads the inputs, `planStandby` says which prebuilds to freeze or thaw, the reconciler writes them.
 */

/** The fragment as written and stored: `{ hot: <count> }`. (`auto` is not implemented yet: see docs/SIZING.md.) */
export type StandbyManifest = { hot: number };

/** The provisioner capability the tiers need (docs/PROVISIONERS.md). */
export const FREEZE_CAPABILITY = 'freeze';

/** A freeze or thaw asked for and not confirmed after this long is asked for again (a lost message). */
export const STANDBY_RETRY_MS = 30_000;

const NOT_CAPABLE = 'no running provisioner declares the freeze capability: the standby runs hot';

export type StandbyProblem = { path: string; message: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every problem of a `prebuilds.standby` fragment, with paths relative to it, given the largest pool the preset
 * declares (instances, any schedule's instances, an autoscaling max): a hot tier larger than that can never be
 * filled and is a mistake. Used at import (paths prefixed by the manifest validator) and on stored data.
 */
export function checkStandby(raw: unknown, largestPool: number): { standby: StandbyManifest; problems: [] } | { standby: null; problems: StandbyProblem[] } {
  if (!isRecord(raw)) return { standby: null, problems: [{ path: '(root)', message: 'must be an object' }] };
  const problems: StandbyProblem[] = [];
  for (const key of Object.keys(raw)) if (key !== 'hot') problems.push({ path: key, message: `unknown field "${key}"` });
  const { hot } = raw;
  if (hot === undefined) problems.push({ path: 'hot', message: 'is required' });
  else if (hot === 'auto') problems.push({ path: 'hot', message: '"auto" is not supported yet: give the number of prebuilds to keep running' });
  else if (typeof hot !== 'number' || !Number.isInteger(hot)) problems.push({ path: 'hot', message: 'must be an integer ≥ 0' });
  else if (hot < 0) problems.push({ path: 'hot', message: 'must be ≥ 0' });
  else if (hot > largestPool) problems.push({ path: 'hot', message: `must be ≤ the largest pool the preset declares (${largestPool}); the rest of the pool is frozen` });
  return problems.length ? { standby: null, problems } : { standby: { hot: hot as number }, problems: [] };
}

/** One eligible (running, ready, unexpired, unclaimed) prebuild as the standby planner sees it. */
export type StandbyPrebuild = {
  id: string;
  createdAt: Date;
  /** The tier Warmpool last asked for; null: never asked (a new prebuild runs hot). */
  want: 'hot' | 'frozen' | null;
  /** The provisioner reported it frozen (and no thaw since). */
  frozen: boolean;
  /** When the last freeze or thaw was asked for. */
  requestedAt: Date | null;
};

export type StandbyInput = {
  /** The preset's stored fragment (null: no tiers, all hot). */
  standby: StandbyManifest | null;
  /** The preset's desired count now: the hot tier is never more than that. */
  desired: number;
  /** Every live provisioner declares the freeze capability. */
  capable: boolean;
  prebuilds: StandbyPrebuild[];
  now: Date;
};

export type StandbyRequest = { id: string; action: 'freeze' | 'thaw' };

export type StandbyPlan = {
  /** Hot and frozen counts once the requests are done. */
  hot: number;
  frozen: number;
  /** Why tiers are configured but not used (all hot), or null. */
  degraded: string | null;
  requests: StandbyRequest[];
  /** When to look again if a request is still unconfirmed by then (null: nothing is waiting for a provisioner). */
  recheckAt: Date | null;
};

const tierOf = (p: StandbyPrebuild): 'hot' | 'frozen' => p.want ?? (p.frozen ? 'frozen' : 'hot');
const byAge = (a: StandbyPrebuild, b: StandbyPrebuild) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Which eligible prebuilds to freeze or thaw so that `min(hot, desired)` run hot and the rest are frozen. Claims take
 * hot prebuilds oldest first, so the oldest stay hot: the newest hot ones are frozen, the oldest frozen ones thawed.
 * A request not confirmed within STANDBY_RETRY_MS is made again. Without the capability nothing is asked for: the
 * pool stays as it is (a new prebuild runs hot) and the plan says why (`degraded`).
 */
export function planStandby(input: StandbyInput): StandbyPlan {
  const prebuilds = [...input.prebuilds].sort(byAge);
  const counts = (ps: StandbyPrebuild[]) => {
    const frozen = ps.filter((p) => tierOf(p) === 'frozen').length;
    return { hot: ps.length - frozen, frozen };
  };
  if (!input.standby) {
    // No tiers: a prebuild frozen under an earlier configuration is thawed (when the provisioner can).
    if (!input.capable) return { ...counts(prebuilds), degraded: null, requests: [], recheckAt: null };
    const requests = prebuilds.filter((p) => tierOf(p) === 'frozen').map((p) => ({ id: p.id, action: 'thaw' as const }));
    return withRecheck({ hot: prebuilds.length, frozen: 0, degraded: null }, retried(requests, prebuilds, input.now), prebuilds, input.now);
  }
  if (!input.capable) {
    return { ...counts(prebuilds), degraded: NOT_CAPABLE, requests: [], recheckAt: null };
  }
  const hotTarget = Math.min(input.standby.hot, Math.max(input.desired, 0));
  const hot = prebuilds.filter((p) => tierOf(p) === 'hot');
  const frozen = prebuilds.filter((p) => tierOf(p) === 'frozen');
  const requests: StandbyRequest[] = [];
  if (hot.length > hotTarget) for (const p of hot.slice(hotTarget)) requests.push({ id: p.id, action: 'freeze' });
  else for (const p of frozen.slice(0, hotTarget - hot.length)) requests.push({ id: p.id, action: 'thaw' });
  const changed = new Map(requests.map((r) => [r.id, r.action]));
  const hotAfter = prebuilds.filter((p) => (changed.get(p.id) === 'thaw' ? true : changed.get(p.id) === 'freeze' ? false : tierOf(p) === 'hot')).length;
  return withRecheck({ hot: hotAfter, frozen: prebuilds.length - hotAfter, degraded: null }, retried(requests, prebuilds, input.now), prebuilds, input.now);
}

/**
 * The plan with its requests and the instant to look again: the earliest moment a request (made now, or earlier
 * and still unconfirmed) is due to be made again. Reconciles follow every confirmation; this catches lost ones.
 */
function withRecheck(plan: Omit<StandbyPlan, 'requests' | 'recheckAt'>, requests: StandbyRequest[], prebuilds: StandbyPrebuild[], now: Date): StandbyPlan {
  const asked = new Set(requests.map((r) => r.id));
  const pendingSince = prebuilds.flatMap((p) => {
    if (asked.has(p.id)) return [now.getTime()];
    return p.want !== null && (p.want === 'frozen') !== p.frozen && p.requestedAt !== null ? [p.requestedAt.getTime()] : [];
  });
  const recheckAt = pendingSince.length ? new Date(Math.min(...pendingSince) + STANDBY_RETRY_MS) : null;
  return { ...plan, requests, recheckAt };
}

/**
 * The new requests plus those asked for earlier and not yet confirmed for STANDBY_RETRY_MS (asked again). A
 * prebuild whose wanted tier already matches what the provisioner reported needs nothing.
 */
function retried(requests: StandbyRequest[], prebuilds: StandbyPrebuild[], now: Date): StandbyRequest[] {
  const asked = new Set(requests.map((r) => r.id));
  const stale = prebuilds.filter(
    (p) =>
      !asked.has(p.id) &&
      p.want !== null &&
      (p.want === 'frozen') !== p.frozen &&
      (p.requestedAt === null || now.getTime() - p.requestedAt.getTime() >= STANDBY_RETRY_MS),
  );
  return [...requests, ...stale.map((p) => ({ id: p.id, action: p.want === 'frozen' ? ('freeze' as const) : ('thaw' as const) }))];
}

/** What the preset status shows of the tiers (null: the preset has none). */
export type StandbyStatus = { hotTarget: number; hot: number; frozen: number; degraded: string | null } | null;

/** The facts behind StandbyStatus: the stored fragment, the eligible prebuilds per tier, the capability. */
export type StandbyFacts = { standby: unknown; hot: number; frozen: number; capable: boolean };

/** The tiers as operators see them: target, counts, and why the standby runs hot when it does (degraded). */
export function standbyStatus(facts: StandbyFacts | undefined, desired: number): StandbyStatus {
  if (!facts || facts.standby === null || facts.standby === undefined) return null;
  const checked = checkStandby(facts.standby, Number.MAX_SAFE_INTEGER);
  const degraded = !checked.standby
    ? `stored standby tiers unusable (${checked.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}): the standby runs hot`
    : facts.capable
      ? null
      : NOT_CAPABLE;
  return { hotTarget: Math.min(checked.standby?.hot ?? desired, Math.max(desired, 0)), hot: facts.hot, frozen: facts.frozen, degraded };
}
