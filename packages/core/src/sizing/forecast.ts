/**
 * Forecast policies: size the pool so that the chance that the requests arriving during one lead time exceed it
 * is at most 1 − target_hit_rate. The request rate of each hour of the week is a seasonal average of the same
 * hour in past weeks, weighted by exponential decay (half-life FORECAST.halfLifeWeeks), and requests in a lead
 * time are taken as Poisson with that rate. Pure: every function takes `now` and the history.
 */
import type { ForecastPolicy } from './policy.js';

export const HOUR_MS = 3_600_000;
const SPARSE_FLOOR = 1;
export const WEEK_MS = 168 * HOUR_MS;

export const FORECAST = {
  /** A week-old sample weighs 1, a three-week-old one 0.5. */
  halfLifeWeeks: 2,
  /** Weeks of history the average reads (retention keeps a little more). */
  weeks: 4,
  /** Less observed history than this is a cold start: the schedule decides. */
  minHistoryMs: WEEK_MS,
  /** Hours the level correction compares with the seasonal expectation. */
  levelHours: 24,
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

/**
 * The hour's seasonal rate, raised towards the mean of it and its two neighbours by at most SPARSE_FLOOR requests
 * per hour: sparse demand (a request every few hours) leaves many single hours at 0 in every past week, and those
 * must not empty the pool; busy hours are left alone (their neighbours would only blur the office-hour edges).
 */
function smoothedRate(index: IndexedHistory, slot: number, now: Date): number | null {
  const here = seasonalRate(index, new Date(slot), now);
  if (here === null) return null;
  const around = [slot - HOUR_MS, slot + HOUR_MS].map((s) => seasonalRate(index, new Date(s), now) ?? here);
  return Math.max(here, Math.min((here + around[0]! + around[1]!) / 3, SPARSE_FLOOR));
}

/**
 * Level correction (the level term of Holt-Winters, in its simplest form): requests of the last LEVEL_HOURS complete
 * hours over what the seasonal rates expected for them, smoothed by one request and bounded to [0.5, 2]. A trend
 * change or a holiday moves the forecast within a day instead of over weeks of decay. 1 when nothing is known.
 */
export function levelFactor(index: IndexedHistory, now: Date): number {
  const last = floorHour(now.getTime());
  let actual = 0;
  let expected = 0;
  for (let slot = last - FORECAST.levelHours * HOUR_MS; slot < last; slot += HOUR_MS) {
    const r = seasonalRate(index, new Date(slot), new Date(slot));
    if (r === null) continue;
    expected += r;
    actual += index.counts.get(slot) ?? 0;
  }
  return Math.min(Math.max((actual + 1) / (expected + 1), 0.5), 2);
}

/**
 * Pool size wanted at `at` before stabilization, for the busiest hour within [at, at + lead time]. A request
 * misses when the requests of the lead time before it have used up the pool (their replacements are still
 * building), so the pool is one more than the Poisson quantile of the requests in a lead time.
 */
function rawTarget(policy: ForecastPolicy, input: ForecastInput, at: number, lead: number, upper: number, level: number): { target: number; rate: number } | null {
  let rate = 0;
  for (let slot = floorHour(at); slot <= at + lead; slot += HOUR_MS) {
    const r = smoothedRate(input.history, slot, input.now);
    if (r === null) return null;
    rate = Math.max(rate, r * level);
  }
  return { target: poolForRate(policy, rate, lead / 1000, upper), rate };
}

/**
 * The pool for an expected `ratePerHour` of requests and a lead time: one more than the Poisson quantile of the
 * requests in a lead time (0 without demand), within [min, upper]. Non-decreasing in the rate.
 */
export function poolForRate(policy: Pick<ForecastPolicy, 'targetHitRate' | 'min'>, ratePerHour: number, leadTimeSeconds: number, upper: number): number {
  const mean = (ratePerHour * leadTimeSeconds) / 3600;
  const target = mean > 0 ? poissonQuantile(mean, policy.targetHitRate, upper) + 1 : 0;
  return Math.max(Math.min(target, upper), Math.min(policy.min, upper));
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
  const level = levelFactor(input.history, input.now);
  const current = rawTarget(policy, input, now, lead, upper, level);
  if (!current) return cold;
  let target = current.target;
  for (const p of points.slice(1)) target = Math.max(target, rawTarget(policy, input, p, lead, upper, level)?.target ?? 0);
  return { target, rate: current.rate, coldStart: false };
}
