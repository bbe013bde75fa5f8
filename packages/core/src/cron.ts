/**
 * Cron expressions as TIME RANGES (BEHAVIOUR.md §3.2): five fields, minute must be `*`, so an expression selects whole
 * local hours on matching days. Parsing is strict on purpose: names, `?`, `L`, `W`, `#`, day-of-week 7,
 * steps after a single number and reversed ranges are rejected rather than guessed at.
 */
import { LRUCache } from 'lru-cache';

export type CronRange = {
  source: string;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  daysOfWeek: ReadonlySet<number>;
  /** A day field counts as `*` only when its text is exactly `*` (classic cron day rule). */
  dayOfMonthIsStar: boolean;
  dayOfWeekIsStar: boolean;
};

export class CronError extends Error {
  override name = 'CronError';
}

type FieldSpec = { name: string; min: number; max: number };
const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 0, max: 6 },
];

const NUMBER = /^\d{1,2}$/;

function parseNumber(text: string, field: FieldSpec, expr: string): number {
  if (!NUMBER.test(text)) throw new CronError(`${expr}: ${field.name} value "${text}" is not a number`);
  const n = Number(text);
  if (n < field.min || n > field.max) {
    throw new CronError(`${expr}: ${field.name} value ${n} is outside ${field.min}-${field.max}`);
  }
  return n;
}

function parseField(text: string, field: FieldSpec, expr: string): Set<number> {
  const values = new Set<number>();
  if (text === '') throw new CronError(`${expr}: ${field.name} is empty`);
  for (const item of text.split(',')) {
    if (item === '') throw new CronError(`${expr}: ${field.name} has an empty list item`);
    const slash = item.split('/');
    if (slash.length > 2) throw new CronError(`${expr}: ${field.name} item "${item}" has more than one step`);
    const [base = '', stepText] = slash;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) {
        throw new CronError(`${expr}: ${field.name} step "${stepText}" must be a positive integer`);
      }
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (base === '*') {
      lo = field.min;
      hi = field.max;
    } else if (base.includes('-')) {
      const parts = base.split('-');
      if (parts.length !== 2) throw new CronError(`${expr}: ${field.name} range "${base}" is malformed`);
      lo = parseNumber(parts[0]!, field, expr);
      hi = parseNumber(parts[1]!, field, expr);
      if (lo > hi) throw new CronError(`${expr}: ${field.name} range ${lo}-${hi} starts after it ends (no wrap-around)`);
    } else {
      lo = parseNumber(base, field, expr);
      hi = lo;
      if (stepText !== undefined) {
        throw new CronError(`${expr}: ${field.name} step "${item}" is only allowed after * or a range`);
      }
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return values;
}

/**
 * Longest accepted expression. Every hour, day, month and weekday listed once is under 200 characters; longer text
 * only repeats values, and it would be parsed, echoed in messages and used as a cache key (issue 21).
 */
export const MAX_CRON_LENGTH = 256;

/** Parses and validates one expression; throws CronError with a message naming the expression and field. */
export function parseCron(expr: string): CronRange {
  if (typeof expr !== 'string') throw new CronError('cron must be a string');
  if (expr.length > MAX_CRON_LENGTH) throw new CronError(`cron must be at most ${MAX_CRON_LENGTH} characters (got ${expr.length})`);
  const fields = expr.trim().split(/\s+/);
  if (expr.trim() === '' || fields.length !== 5) {
    throw new CronError(`${expr}: must have exactly 5 fields (minute hour day-of-month month day-of-week), got ${expr.trim() === '' ? 0 : fields.length}`);
  }
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  if (minute !== '*') throw new CronError(`${expr}: minute field must be * (schedules are hour ranges)`);
  return {
    source: expr,
    hours: parseField(hour, FIELDS[1]!, expr),
    daysOfMonth: parseField(dom, FIELDS[2]!, expr),
    months: parseField(month, FIELDS[3]!, expr),
    daysOfWeek: parseField(dow, FIELDS[4]!, expr),
    dayOfMonthIsStar: dom === '*',
    dayOfWeekIsStar: dow === '*',
  };
}

/** Classic cron day rule: with either day field `*`, both must match; with both restricted, either does. */
export function dayMatches(range: CronRange, dayOfMonth: number, dayOfWeek: number): boolean {
  const domHit = range.daysOfMonth.has(dayOfMonth);
  const dowHit = range.daysOfWeek.has(dayOfWeek);
  return range.dayOfMonthIsStar || range.dayOfWeekIsStar ? domHit && dowHit : domHit || dowHit;
}

/** Whether a local wall-clock (month 1-12, day 1-31, weekday 0-6 with 0 = Sunday, hour 0-23) is inside. */
export function localTimeMatches(range: CronRange, t: { month: number; day: number; weekday: number; hour: number }): boolean {
  return range.hours.has(t.hour) && range.months.has(t.month) && dayMatches(range, t.day, t.weekday);
}

/** Accepted expressions only: a refusal is recomputed (cheap, bounded by MAX_CRON_LENGTH), never stored. */
const parsedCache = new LRUCache<string, CronRange>({ max: 2_000 });

/** parseCron with a bounded memo: stored schedules are evaluated on every reconcile. */
export function parseCronCached(expr: string): CronRange {
  let hit = parsedCache.get(expr);
  if (!hit) {
    hit = parseCron(expr);
    parsedCache.set(expr, hit);
  }
  return hit;
}

/** Entries in the parse memo (tests assert it stays bounded). */
export const parsedCronCacheSize = (): number => parsedCache.size;
