import { LRUCache } from 'lru-cache';
import { DateTime, IANAZone } from 'luxon';
import { CronError, dayMatches, localTimeMatches, parseCronCached, parsedCronCacheSize, type CronRange } from './cron.js';
import type { PresetSnapshot } from './types.js';

type PresetSchedule = Pick<PresetSnapshot['preset'], 'instances' | 'timezone' | 'schedules'>;

export class TimezoneError extends Error {
  override name = 'TimezoneError';
}

/** Longer than any IANA name (the longest is 32 characters): refused without asking Intl. */
const MAX_ZONE_NAME_LENGTH = 64;
/** Valid names only: refusals are not stored, so arbitrary text cannot fill the memo (issue 21). */
const validZones = new LRUCache<string, true>({ max: 1_000 });

/** True for IANA zone names luxon can resolve (`Europe/Berlin`, `UTC`); false for '' and offsets like `+02:00`. */
export function isValidTimezone(zone: string): boolean {
  if (typeof zone !== 'string' || zone === '' || zone.length > MAX_ZONE_NAME_LENGTH) return false;
  // Memoised: luxon builds an Intl.DateTimeFormat per check (~0.1 ms), and stored zones are checked constantly.
  if (validZones.has(zone)) return true;
  if (!IANAZone.isValidZone(zone)) return false;
  validZones.set(zone, true);
  return true;
}

function localParts(at: Date, zone: string) {
  const t = DateTime.fromJSDate(at, { zone });
  // luxon weekday: 1 = Monday … 7 = Sunday; cron: 0 = Sunday … 6 = Saturday.
  return { month: t.month, day: t.day, weekday: t.weekday % 7, hour: t.hour };
}

/**
 * Whether instant `at` lies inside the cron range in `timezone` (BEHAVIOUR.md §3.2): the wall-clock minute of `at` in the
 * zone must match the hour, day and month fields. Throws on an invalid expression or zone.
 */
export function scheduleContains(cron: string, timezone: string, at: Date): boolean {
  const range = parseCronCached(cron);
  if (!isValidTimezone(timezone)) throw new TimezoneError(`unknown time zone ${JSON.stringify(timezone)}`);
  return localTimeMatches(range, localParts(at, timezone));
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]; // February 29 included: it exists in some years
const DAY_SLOTS = 12 * 31 * 7;

/** A range as bit sets: its hours (24 bits) and its (month, day-of-month, weekday) combinations (2,604 bits). */
type RangeBits = { hours: number; days: Uint32Array };
const bitsOf = new WeakMap<CronRange, RangeBits>();

function rangeBits(range: CronRange): RangeBits {
  let bits = bitsOf.get(range);
  if (bits) return bits;
  bits = { hours: 0, days: new Uint32Array(Math.ceil(DAY_SLOTS / 32)) };
  for (const h of range.hours) bits.hours |= 1 << h;
  // The day rule does not depend on the month: evaluate it once per (day, weekday), then copy into each month.
  const matching: boolean[] = [];
  for (let day = 1; day <= 31; day++) for (let weekday = 0; weekday <= 6; weekday++) matching.push(dayMatches(range, day, weekday));
  for (const month of range.months) {
    for (let i = 0; i < DAYS_IN_MONTH[month - 1]! * 7; i++) {
      if (!matching[i]) continue;
      const slot = (month - 1) * 31 * 7 + i;
      bits.days[slot >>> 5]! |= 1 << (slot & 31);
    }
  }
  bitsOf.set(range, bits);
  return bits;
}

/**
 * Whether two ranges share an instant (BEHAVIOUR.md §3.3): exact over month × day-of-month × weekday × hour. Every valid
 * (month, day) falls on every weekday in some year, so each combination is a real instant; DST gaps are ignored.
 * Each range becomes a bit set once (memoised per parsed range), so a comparison costs 83 word ANDs whatever the
 * ranges select: 100 presets × 62 schedules no longer take seconds (issue 21).
 */
export function rangesOverlap(a: CronRange, b: CronRange): boolean {
  const x = rangeBits(a);
  const y = rangeBits(b);
  if ((x.hours & y.hours) === 0) return false;
  for (let i = 0; i < x.days.length; i++) if ((x.days[i]! & y.days[i]!) !== 0) return true;
  return false;
}

/** [] when every expression is valid and no two overlap; otherwise one message per problem. */
export function validateSchedules(crons: string[]): string[] {
  const problems: string[] = [];
  const parsed: (CronRange | null)[] = crons.map((cron) => {
    try {
      return parseCronCached(cron);
    } catch (err) {
      problems.push(err instanceof CronError ? err.message : `${cron}: invalid`);
      return null;
    }
  });
  for (let i = 0; i < parsed.length; i++) {
    for (let j = i + 1; j < parsed.length; j++) {
      const a = parsed[i];
      const b = parsed[j];
      if (a && b && rangesOverlap(a, b)) problems.push(`schedules "${a.source}" and "${b.source}" overlap`);
    }
  }
  return problems;
}

/**
 * Schedule lists found usable, by their JSON key. Problems are not stored (they come from arbitrary text, and are
 * recomputed cheaply); keys are bounded in count and in total length.
 */
const usableSchedules = new LRUCache<string, true>({ max: 2_000, maxSize: 8_000_000, maxEntrySize: 64_000, sizeCalculation: (_v, key) => key.length });

/**
 * Why stored schedule data is unusable (bad zone, invalid cron, overlap), or null when it is fine.
 * Memoised: the reconciler evaluates the same stored schedules over and over.
 */
export function describeScheduleProblem(preset: PresetSchedule): string | null {
  if (!Array.isArray(preset.schedules) || preset.schedules.length === 0) return null;
  // The key covers everything the answer depends on: zone, expressions and instance counts.
  const key = JSON.stringify([preset.timezone, preset.schedules.map((s) => (s && typeof s === 'object' ? [s.cron, s.instances] : null))]);
  if (usableSchedules.has(key)) return null;
  let problem: string | null = null;
  if (!isValidTimezone(preset.timezone)) problem = `unknown time zone ${JSON.stringify(preset.timezone)}`;
  else if (preset.schedules.some((s) => !s || typeof s.cron !== 'string' || !Number.isInteger(s.instances) || s.instances < 0)) {
    problem = 'a schedule entry is malformed';
  } else {
    const problems = validateSchedules(preset.schedules.map((s) => s.cron));
    if (problems.length) problem = problems.join('; ');
  }
  if (problem === null) usableSchedules.set(key, true);
  return problem;
}

/** Entries in the schedule memos (tests assert they stay bounded). */
export const scheduleCacheSizes = () => ({ zones: validZones.size, usableSchedules: usableSchedules.size, crons: parsedCronCacheSize() });

/**
 * The desired count as a function of time for one preset (BEHAVIOUR.md §3.1), with the schedule list checked and
 * parsed once: callers that evaluate many instants (replay, previews) must not rebuild the check's key per instant.
 */
export function scheduleEvaluator(preset: PresetSchedule): (at: Date) => number {
  if (!Array.isArray(preset.schedules) || preset.schedules.length === 0 || describeScheduleProblem(preset) !== null) return () => preset.instances;
  const ranges = preset.schedules.map((s) => ({ range: parseCronCached(s.cron), instances: s.instances }));
  return (at) => {
    const parts = localParts(at, preset.timezone);
    return ranges.find((r) => localTimeMatches(r.range, parts))?.instances ?? preset.instances;
  };
}

/**
 * Desired pool size at `at` (BEHAVIOUR.md §3.1): base count without schedules; else the first schedule (manifest order)
 * containing `at`; else the base count. Unusable stored data falls back to the base count and never throws.
 */
export function desiredInstancesAt(preset: PresetSchedule, at: Date): number {
  return scheduleEvaluator(preset)(at);
}

const DEFAULT_HORIZON_MS = 8 * 24 * 3600 * 1000;
const HOUR_MS = 3_600_000;

/** Real zones never change offset twice within this window, so one probe per window finds every transition. */
const OFFSET_PROBE_MS = 6 * HOUR_MS;

type ZoneCursor = { ms: number; offsetMs: number; /** the offset is known to stay offsetMs through this instant */ stableUntil: number };

/**
 * The first instant after `cursor.ms` at which the local hour in `zone` can change, with the zone offset from then
 * on: the next local hour start under the current offset, or the offset transition (DST) before it. Computed from
 * offsets rather than by adding hours to a wall-clock time, which loops forever in zones whose DST shift is not a
 * whole hour (Australia/Lord_Howe). The offset is probed once per window, not per hour (Intl calls are slow).
 */
function nextLocalHourChange(zone: IANAZone, cursor: ZoneCursor): ZoneCursor {
  const { ms, offsetMs } = cursor;
  const next = Math.floor((ms + offsetMs) / HOUR_MS) * HOUR_MS + HOUR_MS - offsetMs;
  if (next <= cursor.stableUntil) return { ms: next, offsetMs, stableUntil: cursor.stableUntil };
  const probe = Math.max(next, ms + OFFSET_PROBE_MS);
  if (zone.offset(probe) * 60_000 === offsetMs) return { ms: next, offsetMs, stableUntil: probe };
  // The offset changes within (ms, probe]: find the first millisecond with the new offset.
  let lo = ms;
  let hi = probe;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zone.offset(mid) * 60_000 === offsetMs) lo = mid;
    else hi = mid;
  }
  if (next < hi) return { ms: next, offsetMs, stableUntil: lo };
  return { ms: hi, offsetMs: zone.offset(hi) * 60_000, stableUntil: hi };
}

/**
 * The first instant after `after` at which desiredInstancesAt changes, with the new count, or null within the
 * horizon (a change exactly at after + horizon is included). Minute fields are `*`, so changes happen only at
 * local hour starts, DST transitions included. Wall-clock parts come from the known offset (no Intl per step).
 */
export function nextDesiredChange(preset: PresetSchedule, after: Date, horizonMs = DEFAULT_HORIZON_MS): { at: Date; instances: number } | null {
  if (!Array.isArray(preset.schedules) || preset.schedules.length === 0) return null;
  if (describeScheduleProblem(preset) !== null) return null;
  const start = after.getTime();
  if (!Number.isFinite(start)) return null;
  const zone = IANAZone.create(preset.timezone);
  const ranges = preset.schedules.map((s) => ({ range: parseCronCached(s.cron), instances: s.instances }));
  const valueAt = (ms: number, offsetMs: number): number => {
    const local = new Date(ms + offsetMs);
    const parts = { month: local.getUTCMonth() + 1, day: local.getUTCDate(), weekday: local.getUTCDay(), hour: local.getUTCHours() };
    return ranges.find((r) => localTimeMatches(r.range, parts))?.instances ?? preset.instances;
  };
  let step: ZoneCursor = { ms: start, offsetMs: zone.offset(start) * 60_000, stableUntil: start };
  const current = valueAt(step.ms, step.offsetMs);
  const end = start + horizonMs;
  for (step = nextLocalHourChange(zone, step); step.ms <= end; step = nextLocalHourChange(zone, step)) {
    const instances = valueAt(step.ms, step.offsetMs);
    if (instances !== current) return { at: new Date(step.ms), instances };
  }
  return null;
}

/** The desired count at `from`, then every change until `to` (inclusive), for previews. */
export function desiredTimeline(preset: PresetSchedule, from: Date, to: Date): { at: Date; instances: number }[] {
  const points = [{ at: from, instances: desiredInstancesAt(preset, from) }];
  let cursor = from;
  for (;;) {
    const next = nextDesiredChange(preset, cursor, to.getTime() - cursor.getTime());
    if (!next || next.at > to) return points;
    points.push(next);
    cursor = next.at;
  }
}
