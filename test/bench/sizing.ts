/**
 * `npm run bench -- sizing`: a synthetic four-week request trace for three presets, replayed in simulated time
 * (core `replay`, 1-minute steps, 5-minute build lead time) against (a) the best static schedule a careful
 * operator would write (two levels, office hours vs the rest, the cheapest pair meeting 95 % with hindsight),
 * (b) the Coder-style expression `max(scheduled_target, claims_60m)` on that schedule, and (c) the forecast
 * policy at target_hit_rate 0.95 (schedule fallback during its first, cold-start week). Pure: no database.
 */
import { DateTime } from 'luxon';
import { replay, type AutoscalingPolicy, type ReplayTotals } from '@warmpool/core';
import { createRandom } from '@warmpool/provisioner-sim';
import type { Figure } from './lib.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const LEAD_TIME_SECONDS = 300;
const TARGET = 0.95;

/** Requests per hour at a local time: office peak, lunch dip, shoulders, quiet nights and weekends. */
type Profile = { name: string; zone: string; peak: number; lunch: number; shoulder: number; night: number; weekend: number };

const PRESETS: Profile[] = [
  { name: 'web-eu', zone: 'Europe/Berlin', peak: 30, lunch: 14, shoulder: 10, night: 0.5, weekend: 2 },
  { name: 'data-us', zone: 'America/New_York', peak: 12, lunch: 6, shoulder: 4, night: 0.3, weekend: 1 },
  { name: 'gpu-eu', zone: 'Europe/Berlin', peak: 3, lunch: 1, shoulder: 1, night: 0, weekend: 0.2 },
];

// Monday 6 April 2026 (after the March DST change), four weeks; Friday 1 May is a public holiday (weekend demand);
// from Monday 20 April on demand is 40 % higher (a team joins: the trend change).
const START = Date.parse('2026-04-06T00:00:00Z');
const END = START + 28 * DAY;
const TREND_FROM = Date.parse('2026-04-20T00:00:00Z');
const HOLIDAY = '2026-05-01';

function ratePerHour(p: Profile, at: number): number {
  const t = DateTime.fromMillis(at, { zone: p.zone });
  const weekend = t.weekday >= 6 || t.toISODate() === HOLIDAY;
  const h = t.hour;
  let rate: number;
  if (weekend) rate = h >= 9 && h < 19 ? p.weekend : p.night;
  else if (h >= 9 && h < 17) rate = h === 12 ? p.lunch : p.peak;
  else if ((h >= 7 && h < 9) || (h >= 17 && h < 19)) rate = p.shoulder;
  else rate = p.night;
  return at >= TREND_FROM ? rate * 1.4 : rate;
}

export function poisson(mean: number, rand: () => number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = rand(); p > limit; p *= rand()) k++;
  return k;
}

/** Request instants of one preset: Poisson counts per minute, spread uniformly within the minute. */
export function syntheticTrace(p: Profile, seed: number): Date[] {
  // mulberry32, seeded: every run replays the same trace.
  const rand = createRandom(seed);
  const out: Date[] = [];
  for (let t = START; t < END; t += MINUTE) {
    const n = poisson(ratePerHour(p, t) / 60, rand);
    const at = Array.from({ length: n }, () => t + rand() * MINUTE).sort((a, b) => a - b);
    for (const x of at) out.push(new Date(x));
  }
  return out;
}

/** Two levels: `peak` prebuilds 08:00–18:59 on weekdays in `zone`, `off` otherwise. */
export const officeSchedule = (zone: string, peak: number, off: number) => ({
  instances: off,
  timezone: zone,
  schedules: [{ cron: '* 8-18 * * 1-5', instances: peak }],
});
type OfficeSchedule = ReturnType<typeof officeSchedule>;

export type StaticSearch = { requests: Date[]; from: Date; to: Date; zone: string; leadTimeSeconds: number; target: number };

/**
 * The best static schedule rule (docs/SIZING.md): the cheapest two-level office schedule (fewest prebuild-hours) that
 * meets `target` over the whole trace, chosen with hindsight by replaying it.
 */
export function bestStaticSchedule(s: StaticSearch): { peak: number; off: number; schedule: OfficeSchedule; totals: ReplayTotals } {
  const run = (schedule: OfficeSchedule) => replay({ policy: null, schedule, requests: s.requests, from: s.from, to: s.to, leadTimeSeconds: s.leadTimeSeconds }).totals;
  let best: { peak: number; off: number; schedule: OfficeSchedule; totals: ReplayTotals } | null = null;
  for (let off = 0; off <= 6; off++) {
    for (let peak = off; peak <= 30; peak++) {
      const schedule = officeSchedule(s.zone, peak, off);
      const totals = run(schedule);
      if ((totals.hitRate ?? 1) >= s.target) {
        if (!best || totals.prebuildHours < best.totals.prebuildHours) best = { peak, off, schedule, totals };
        break; // more peak prebuilds only cost more
      }
    }
  }
  if (!best) throw new Error(`no static schedule reaches ${s.target}`);
  return best;
}

function run(requests: Date[], schedule: OfficeSchedule, policy: AutoscalingPolicy | null): ReplayTotals {
  return replay({ policy, schedule, requests, from: new Date(START), to: new Date(END), leadTimeSeconds: LEAD_TIME_SECONDS }).totals;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export async function sizingBench(figures: Figure[]): Promise<Record<string, unknown>> {
  const sum = { static: zero(), expression: zero(), forecast: zero() };
  const details: Record<string, unknown>[] = [];
  const forecast: AutoscalingPolicy = { kind: 'forecast', targetHitRate: TARGET, min: 0, max: 100, leadTimeSeconds: LEAD_TIME_SECONDS, stabilizationSeconds: 300 };
  const expression: AutoscalingPolicy = { kind: 'expression', expression: 'max(scheduled_target, claims_60m)', min: 0, max: 100 };
  for (const [i, p] of PRESETS.entries()) {
    const requests = syntheticTrace(p, 1000 + i);
    const best = bestStaticSchedule({ requests, from: new Date(START), to: new Date(END), zone: p.zone, leadTimeSeconds: LEAD_TIME_SECONDS, target: TARGET });
    const schedule = best.schedule;
    const results = { static: best.totals, expression: run(requests, schedule, expression), forecast: run(requests, schedule, forecast) };
    for (const [kind, t] of Object.entries(results) as [keyof typeof sum, ReplayTotals][]) {
      add(sum[kind], t);
      figures.push({
        name: `${p.name}: ${label(kind)}`,
        value: round((t.hitRate ?? 0) * 100, 2),
        unit: '% hits',
        note: `${t.misses} misses, ${round(t.prebuildHours)} prebuild-hours`,
        ...(kind === 'forecast'
          ? { target: `≥ ${TARGET * 100}% and ≤ ${round(best.totals.prebuildHours)} h`, ok: (t.hitRate ?? 0) >= TARGET && t.prebuildHours <= best.totals.prebuildHours }
          : {}),
      });
    }
    details.push({ preset: p.name, requests: requests.length, staticSchedule: { peak: best.peak, offPeak: best.off }, results });
  }
  for (const kind of ['static', 'expression', 'forecast'] as const) {
    const t = sum[kind];
    const hitRate = t.requests ? t.hits / t.requests : 0;
    figures.push({ name: `all presets: ${label(kind)}, hit rate`, value: round(hitRate * 100, 2), unit: '%', ...(kind === 'forecast' ? { target: `≥ ${TARGET * 100}%`, ok: hitRate >= TARGET } : {}) });
    figures.push({ name: `all presets: ${label(kind)}, misses`, value: t.misses, unit: 'misses' });
    figures.push({
      name: `all presets: ${label(kind)}, prebuild-hours`,
      value: round(t.prebuildHours),
      unit: 'h',
      ...(kind === 'forecast' ? { target: `≤ ${round(sum.static.prebuildHours)} h (static)`, ok: t.prebuildHours <= sum.static.prebuildHours } : {}),
    });
  }
  return { trace: { start: new Date(START).toISOString(), days: 28, holiday: HOLIDAY, trendFrom: new Date(TREND_FROM).toISOString(), leadTimeSeconds: LEAD_TIME_SECONDS }, presets: details };
}

const zero = () => ({ requests: 0, hits: 0, misses: 0, prebuildHours: 0 });
function add(into: ReturnType<typeof zero>, t: ReplayTotals): void {
  into.requests += t.requests;
  into.hits += t.hits;
  into.misses += t.misses;
  into.prebuildHours += t.prebuildHours;
}
const label = (kind: string) =>
  kind === 'static' ? '(a) best static schedule' : kind === 'expression' ? '(b) max(scheduled_target, claims_60m)' : `(c) forecast at ${TARGET}`;
