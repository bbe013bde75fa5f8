/**
 * Replay: what a sizing policy would have done with a recorded (or synthetic) request trace, in simulated time.
 * Used by the replay API/CLI (dry run of a proposed policy) and by the sizing benchmark.
 *
 * The model, minute by minute: the pool starts converged at the first step; each request takes a ready prebuild
 * (hit) or finds none (miss: a fresh build, outside the pool); then the desired count is evaluated and the pool
 * reconciled as the planner does (create desired − ready − building, builds become ready after the lead time;
 * delete ready prebuilds above desired). Prebuild-hours count ready and building prebuilds. TTL expiry, build
 * failures and the in-flight cap are not modelled.
 */
import { scheduleEvaluator } from '../schedule.js';
import type { PresetSnapshot } from '../types.js';
import { HOUR_MS, indexHistory, type DemandBucket } from './forecast.js';
import type { AutoscalingPolicy } from './policy.js';
import { sizeTarget, type DemandEvent, type TargetSource } from './target.js';

type PresetSchedule = Pick<PresetSnapshot['preset'], 'instances' | 'timezone' | 'schedules'>;

export type ReplayInput = {
  policy: AutoscalingPolicy | null;
  schedule: PresetSchedule;
  /** Every request time of the trace, ascending; those before `from` are history for the forecast only. */
  requests: readonly Date[];
  from: Date;
  to: Date;
  /** Build-to-eligible time of a prebuild in the simulation (and the forecast's lead time unless the policy sets one). */
  leadTimeSeconds: number;
  stepMs?: number;
  cap?: number;
};

export type ReplayHour = {
  hour: string;
  /** Largest desired count during the hour. */
  desired: number;
  requests: number;
  hits: number;
  misses: number;
  /** hits / requests; null in an hour without requests. */
  hitRate: number | null;
  prebuildHours: number;
};

export type ReplayTotals = { requests: number; hits: number; misses: number; hitRate: number | null; prebuildHours: number };
export type ReplayResult = { hours: ReplayHour[]; totals: ReplayTotals; sources: Partial<Record<TargetSource, number>> };

const RECENT_MS = 120 * 60_000;
const QUARTER_MS = 15 * 60_000;

/** The simulated pool: ready prebuilds, and the ready-at instants of those building (ascending: constant lead time). */
type SimPool = { ready: number; building: number[] };

/**
 * The scheduled count at `now`. Schedules change only at local hour starts, and every zone offset is a whole number
 * of quarter hours: the count is constant within a UTC quarter hour, so it is computed once per quarter (luxon is slow).
 */
function scheduleByQuarter(schedule: PresetSchedule): (now: number) => number {
  const desiredAt = scheduleEvaluator(schedule); // checked and parsed once, not per quarter (issue 21)
  let quarter = Number.NaN;
  let scheduled = 0;
  return (now) => {
    const q = Math.floor(now / QUARTER_MS);
    if (q !== quarter) {
      quarter = q;
      scheduled = desiredAt(new Date(now));
    }
    return scheduled;
  };
}

/** The policy's target at `now` over the simulated pool and the last two hours of requests; counts each target source. */
function targetSizer(input: ReplayInput, pool: SimPool, recent: DemandEvent[], history: ReturnType<typeof indexHistory>, sources: ReplayResult['sources']): (now: number) => number {
  const scheduledAt = scheduleByQuarter(input.schedule);
  return (now) => {
    const at = new Date(now);
    while (recent.length && recent[0]!.at.getTime() <= now - RECENT_MS) recent.shift();
    const result = sizeTarget({
      policy: input.policy,
      scheduled: scheduledAt(now),
      now: at,
      timezone: input.schedule.timezone,
      pool: { running: pool.ready, eligible: pool.ready, starting: pool.building.length, stopping: 0, deleting: 0, expired: 0 },
      recent,
      history,
      measuredLeadTimeSeconds: input.leadTimeSeconds,
      ...(input.cap !== undefined ? { cap: input.cap } : {}),
    });
    sources[result.source] = (sources[result.source] ?? 0) + 1;
    return result.target;
  };
}

function emptyHour(hourStart: number): ReplayHour {
  return { hour: new Date(hourStart).toISOString(), desired: 0, requests: 0, hits: 0, misses: 0, hitRate: null, prebuildHours: 0 };
}

function totalsOf(hours: readonly ReplayHour[]): ReplayTotals {
  const totals = hours.reduce(
    (sum, h) => ({ requests: sum.requests + h.requests, hits: sum.hits + h.hits, misses: sum.misses + h.misses, prebuildHours: sum.prebuildHours + h.prebuildHours }),
    { requests: 0, hits: 0, misses: 0, prebuildHours: 0 },
  );
  return { ...totals, hitRate: totals.requests ? totals.hits / totals.requests : null };
}

export function replay(input: ReplayInput): ReplayResult {
  const step = input.stepMs ?? 60_000;
  const from = input.from.getTime();
  const to = input.to.getTime();
  const leadMs = input.leadTimeSeconds * 1000;
  const requests = input.requests.map((d) => d.getTime());
  const pool: SimPool = { ready: 0, building: [] };
  const recent: DemandEvent[] = [];
  const hours: ReplayHour[] = [];
  const sources: ReplayResult['sources'] = {};
  const desiredAt = targetSizer(input, pool, recent, indexHistory(toHourly(requests)), sources);
  let next = lowerBound(requests, from);

  pool.ready = desiredAt(from);
  let hour: ReplayHour | null = null;
  for (let t = from; t < to; t += step) {
    const end = Math.min(t + step, to);
    const hourStart = Math.floor(t / HOUR_MS) * HOUR_MS;
    if (!hour || hour.hour !== new Date(hourStart).toISOString()) hours.push((hour = emptyHour(hourStart)));
    while (pool.building.length && pool.building[0]! <= t) {
      pool.building.shift();
      pool.ready++;
    }
    for (; next < requests.length && requests[next]! < end; next++) {
      const hit = pool.ready > 0;
      if (hit) pool.ready--;
      recent.push({ at: new Date(requests[next]!), hit });
      hour.requests++;
      if (hit) hour.hits++;
      else hour.misses++;
    }
    const desired = desiredAt(end);
    hour.desired = Math.max(hour.desired, desired);
    const create = Math.max(desired - pool.ready - pool.building.length, 0);
    for (let i = 0; i < create; i++) pool.building.push(end + leadMs);
    pool.ready -= Math.max(pool.ready - desired, 0);
    hour.prebuildHours += ((pool.ready + pool.building.length) * (end - t)) / HOUR_MS;
  }
  for (const h of hours) h.hitRate = h.requests ? h.hits / h.requests : null;
  return { hours, totals: totalsOf(hours), sources };
}

/** Hourly request counts of a sorted trace (all of it: the forecast itself only reads hours before its `now`). */
export function toHourly(requests: readonly number[]): { hourly: DemandBucket[]; observedSince: Date | null } {
  const first = requests[0];
  const counts = new Map<number, number>();
  for (const t of requests) {
    const h = Math.floor(t / HOUR_MS) * HOUR_MS;
    counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  return {
    hourly: [...counts].map(([start, n]) => ({ start: new Date(start), requests: n })),
    observedSince: first === undefined ? null : new Date(first),
  };
}

function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
