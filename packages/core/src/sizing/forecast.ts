/**
 * Forecast policies: size the pool so that the chance that the requests arriving during one lead time exceed it
 * is at most 1 − target_hit_rate. The request rate of each hour of the week is a seasonal average of the same
 * hour in past weeks, weighted by exponential decay (half-life FORECAST.halfLifeWeeks), and requests in a lead
 * time are taken as Poisson with that rate. Pure: every function takes `now` and the history.
 */
import type { ForecastPolicy } from './policy.js';

export const HOUR_MS = 3_600_000;
export const WEEK_MS = 168 * HOUR_MS;

export const FORECAST = {
  /** A week-old sample weighs 1, a three-week-old one 0.5. */
  halfLifeWeeks: 2,
  /** Weeks of history the average reads (retention keeps a little more). */
  weeks: 4,
  /** Less observed history than this is a cold start: the schedule decides. */
  minHistoryMs: WEEK_MS,
} as const;

/** Requests (claims + misses) recorded in one UTC hour [start, start + 1 h); hours without requests may be absent. */
export type DemandBucket = { start: Date; requests: number };

export type DemandHistory = {
  hourly: DemandBucket[];
  /** Time of the first recorded request (start of observation); null without history. */
  observedSince: Date | null;
};

/**
 * The smallest n ≥ 0 with P(X ≤ n) ≥ q for X ~ Poisson(mean), but at most `limit`. Summed in log space so large
 * means do not underflow. Non-decreasing in `mean` and in `q`.
 */
export function poissonQuantile(mean: number, q: number, limit: number): number {
  if (!(mean > 0)) return 0;
  const logMean = Math.log(mean);
  let logP = -mean;
  let cdf = Math.exp(logP);
  let n = 0;
  while (cdf < q && n < limit) {
    n++;
    logP += logMean - Math.log(n);
    cdf += Math.exp(logP);
  }
  return n;
}

const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

/** Indexes a history once, so that many rates can be read from it (replays read thousands). */
export function indexHistory(history: DemandHistory): { counts: Map<number, number>; observedSince: number | null } {
  const counts = new Map<number, number>();
  for (const b of history.hourly) {
    const start = floorHour(b.start.getTime());
    counts.set(start, (counts.get(start) ?? 0) + b.requests);
  }
  return { counts, observedSince: history.observedSince ? history.observedSince.getTime() : null };
}
export type IndexedHistory = ReturnType<typeof indexHistory>;

/**
 * Expected requests per hour in the hour-of-week containing `at`: the decayed average of the same UTC hour in each
 * of the last FORECAST.weeks weeks that lies wholly in the observed past (before `now`, from the first recorded
 * hour). Null when no such week exists. UTC weeks: after a DST change the local hour shifts by one for a while.
 */
export function seasonalRate(index: IndexedHistory, at: Date, now: Date): number | null {
  if (index.observedSince === null) return null;
  const slot = floorHour(at.getTime());
  const firstHour = floorHour(index.observedSince);
  let weighted = 0;
  let weights = 0;
  for (let w = 1; w <= FORECAST.weeks; w++) {
    const past = slot - w * WEEK_MS;
    if (past < firstHour || past + HOUR_MS > now.getTime()) continue;
    const weight = 0.5 ** ((w - 1) / FORECAST.halfLifeWeeks);
    weighted += weight * (index.counts.get(past) ?? 0);
    weights += weight;
  }
  return weights > 0 ? weighted / weights : null;
}

export type ForecastInput = {
  history: IndexedHistory;
  now: Date;
  /** The schedule's count now: the answer on a cold start. */
  scheduled: number;
  leadTimeSeconds: number;
  /** Global upper bound of any autoscaled target. */
  cap: number;
};

export type ForecastResult = {
  target: number;
  /** Expected requests per hour the target was sized for (null on a cold start). */
  rate: number | null;
  coldStart: boolean;
};

/** Pool size wanted at `at` before stabilization: sized for the busiest hour within [at, at + lead time]. */
function rawTarget(policy: ForecastPolicy, input: ForecastInput, at: number, lead: number, upper: number): { target: number; rate: number } | null {
  let rate = 0;
  for (let slot = floorHour(at); slot <= at + lead; slot += HOUR_MS) {
    const r = seasonalRate(input.history, new Date(slot), input.now);
    if (r === null) return null;
    rate = Math.max(rate, r);
  }
  const target = poissonQuantile((rate * lead) / HOUR_MS, policy.targetHitRate, upper);
  return { target: Math.max(Math.min(target, upper), Math.min(policy.min, upper)), rate };
}

/**
 * The forecast policy's target at `now`. Scales up at once (the lead time looks ahead, so builds start before
 * demand arrives) and down only after the stabilization window: the target is the largest raw target over
 * [now − window, now]. Never above `max` or `cap`, never below `min` (unless min > cap). Cold start (less than a
 * week observed, or an hour with no observed week) answers the schedule.
 */
export function forecastTarget(policy: ForecastPolicy, input: ForecastInput): ForecastResult {
  const now = input.now.getTime();
  const cold = { target: input.scheduled, rate: null, coldStart: true };
  const since = input.history.observedSince;
  if (since === null || now - since < FORECAST.minHistoryMs) return cold;
  const lead = Math.max(input.leadTimeSeconds, 1) * 1000;
  const upper = Math.max(Math.min(policy.max, input.cap), 0);
  const window = policy.stabilizationSeconds * 1000;
  // The raw target changes only at hour boundaries: sample now, the window's start, and just before each boundary.
  const points = [now, now - window];
  for (let boundary = floorHour(now); boundary > now - window; boundary -= HOUR_MS) points.push(boundary - 1);
  const current = rawTarget(policy, input, now, lead, upper);
  if (!current) return cold;
  let target = current.target;
  for (const p of points.slice(1)) target = Math.max(target, rawTarget(policy, input, p, lead, upper)?.target ?? 0);
  return { target, rate: current.rate, coldStart: false };
}
