/**
 * Cron expressions as TIME RANGES (BEHAVIOUR.md §3.2): five fields, minute must be `*`, so an expression selects whole
 * local hours on matching days. cron-parser expands each field; on top of it this module keeps what cron-parser does
 * not do: the minute-must-be-`*` rule, the reading as hour ranges, and stricter refusals — names, `?`, `L`, `W`, `#`,
 * `H`, day-of-week 7, steps after a single number and reversed ranges are rejected rather than guessed at.
 */
import { CronExpressionParser } from 'cron-parser';
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

type FieldSpec = { name: string; min: number; max: number; position: number; key: 'hour' | 'dayOfMonth' | 'month' | 'dayOfWeek' };
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23, position: 1, key: 'hour' };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31, position: 2, key: 'dayOfMonth' };
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, position: 3, key: 'month' };
const DAY_OF_WEEK: FieldSpec = { name: 'day-of-week', min: 0, max: 6, position: 4, key: 'dayOfWeek' };

/** The accepted grammar of one list item: `*`, `N` or `N-M`, with a step only after `*` or a range. */
const ITEM = /^(?:\*|(\d{1,2})(?:-(\d{1,2}))?)(?:\/(\d+))?$/;

/** The stricter refusals, each naming the expression and the field; what passes is plain numeric cron. */
function refuseOutsideGrammar(text: string, field: FieldSpec, expr: string): void {
  if (text === '') throw new CronError(`${expr}: ${field.name} is empty`);
  for (const item of text.split(',')) {
    if (item === '') throw new CronError(`${expr}: ${field.name} has an empty list item`);
    const match = ITEM.exec(item);
    if (!match) throw new CronError(`${expr}: ${field.name} item "${item}" is not *, a number, a range or a step of one of them`);
    const [, lo, hi, step] = match;
    for (const n of [lo, hi]) {
      if (n !== undefined && (Number(n) < field.min || Number(n) > field.max)) {
        throw new CronError(`${expr}: ${field.name} value ${Number(n)} is outside ${field.min}-${field.max}`);
      }
    }
    if (hi !== undefined && Number(lo) > Number(hi)) throw new CronError(`${expr}: ${field.name} range ${lo}-${hi} starts after it ends (no wrap-around)`);
    if (step !== undefined && Number(step) < 1) throw new CronError(`${expr}: ${field.name} step "${step}" must be a positive integer`);
    if (step !== undefined && lo !== undefined && hi === undefined) throw new CronError(`${expr}: ${field.name} step "${item}" is only allowed after * or a range`);
  }
}

/**
 * One field's values, expanded by cron-parser item by item (it refuses a list whose items overlap, which plain cron
 * allows). Each item is parsed in an expression of its own, the other fields `*`, so that an impossible date such as
 * the 31st of February stays a valid range that matches nothing, as documented, where cron-parser would refuse it.
 */
function expand(text: string, field: FieldSpec, expr: string): Set<number> {
  refuseOutsideGrammar(text, field, expr);
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const fields = ['0', '*', '*', '*', '*'];
    fields[field.position] = item;
    let expanded: readonly (number | string)[];
    try {
      expanded = CronExpressionParser.parse(fields.join(' ')).fields[field.key].values;
    } catch (err) {
      throw new CronError(`${expr}: ${field.name} "${item}": ${(err as Error).message}`);
    }
    // cron-parser lists Sunday twice (0 and 7) for a day-of-week wildcard; this module's weekdays are 0-6.
    for (const v of expanded.map(Number)) if (v >= field.min && v <= field.max) values.add(v);
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
    hours: expand(hour, HOUR, expr),
    daysOfMonth: expand(dom, DAY_OF_MONTH, expr),
    months: expand(month, MONTH, expr),
    daysOfWeek: expand(dow, DAY_OF_WEEK, expr),
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
