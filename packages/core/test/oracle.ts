/**
 * Independent reference implementations for the property tests: random cron ranges generated as STRUCTURED
 * fields (so the oracle never parses the text it checks), wall-clock parts through Intl (not luxon), and an
 * overlap check that walks real calendar days instead of the month × day × weekday space the core uses.
 */
import fc from 'fast-check';

export type FieldValues = { text: string; values: Set<number>; star: boolean };
export type OracleCron = { text: string; hours: FieldValues; dom: FieldValues; month: FieldValues; dow: FieldValues };

const range = (lo: number, hi: number, step = 1): number[] => {
  const out: number[] = [];
  for (let v = lo; v <= hi; v += step) out.push(v);
  return out;
};

/** One list item of a cron field within [min, max], with the values it selects. */
function itemArb(min: number, max: number): fc.Arbitrary<{ text: string; values: number[] }> {
  const value = fc.integer({ min, max });
  const pair = fc.tuple(value, value).map(([a, b]) => (a <= b ? [a, b] : [b, a]) as [number, number]);
  const step = fc.integer({ min: 1, max: max - min + 2 });
  return fc.oneof(
    value.map((n) => ({ text: String(n), values: [n] })),
    pair.map(([a, b]) => ({ text: `${a}-${b}`, values: range(a, b) })),
    step.map((s) => ({ text: `*/${s}`, values: range(min, max, s) })),
    fc.tuple(pair, step).map(([[a, b], s]) => ({ text: `${a}-${b}/${s}`, values: range(a, b, s) })),
  );
}

export function fieldArb(min: number, max: number, starWeight = 2): fc.Arbitrary<FieldValues> {
  return fc.oneof(
    { arbitrary: fc.constant({ text: '*', values: new Set(range(min, max)), star: true }), weight: starWeight },
    {
      arbitrary: fc.array(itemArb(min, max), { minLength: 1, maxLength: 3 }).map((items) => ({
        text: items.map((i) => i.text).join(','),
        values: new Set(items.flatMap((i) => i.values)),
        star: false,
      })),
      weight: 3,
    },
  );
}

export const oracleCronArb: fc.Arbitrary<OracleCron> = fc
  .record({ hours: fieldArb(0, 23, 1), dom: fieldArb(1, 31, 3), month: fieldArb(1, 12, 4), dow: fieldArb(0, 6, 3) })
  .map((f) => ({ ...f, text: `* ${f.hours.text} ${f.dom.text} ${f.month.text} ${f.dow.text}` }));

/** A field listing explicit values (e.g. disjoint hour sets, so that generated schedules do not overlap). */
export function listField(hours: number[]): FieldValues {
  const sorted = [...new Set(hours)].sort((a, b) => a - b);
  return { text: sorted.join(','), values: new Set(sorted), star: false };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local wall-clock parts of an instant in an IANA zone, through Intl only. weekday: 0 = Sunday. */
export function intlParts(at: Date, zone: string): { month: number; day: number; weekday: number; hour: number } {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', month: 'numeric', day: 'numeric', weekday: 'short', hour: 'numeric' });
    formatters.set(zone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(at).map((p) => [p.type, p.value]));
  const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  return { month: Number(parts.month), day: Number(parts.day), weekday: weekdays.indexOf(parts.weekday ?? ''), hour: Number(parts.hour) };
}

export function oracleDayMatches(c: OracleCron, day: number, weekday: number): boolean {
  const domHit = c.dom.values.has(day);
  const dowHit = c.dow.values.has(weekday);
  return c.dom.star || c.dow.star ? domHit && dowHit : domHit || dowHit;
}

export function oracleContains(c: OracleCron, zone: string, at: Date): boolean {
  const p = intlParts(at, zone);
  return c.hours.values.has(p.hour) && c.month.values.has(p.month) && oracleDayMatches(c, p.day, p.weekday);
}

/**
 * Overlap by walking every calendar day of 2000–2027: 28 years hold every (month, day, weekday) combination that
 * exists, Feb 29 on each weekday included.
 */
export function oracleOverlap(a: OracleCron, b: OracleCron): boolean {
  if (![...a.hours.values].some((h) => b.hours.values.has(h))) return false;
  for (let ms = Date.UTC(2000, 0, 1); ms < Date.UTC(2028, 0, 1); ms += 86_400_000) {
    const d = new Date(ms);
    const month = d.getUTCMonth() + 1;
    if (!a.month.values.has(month) || !b.month.values.has(month)) continue;
    if (oracleDayMatches(a, d.getUTCDate(), d.getUTCDay()) && oracleDayMatches(b, d.getUTCDate(), d.getUTCDay())) return true;
  }
  return false;
}

export function oracleAnyOverlap(schedules: { cron: OracleCron }[]): boolean {
  for (let i = 0; i < schedules.length; i++) {
    for (let j = i + 1; j < schedules.length; j++) if (oracleOverlap(schedules[i]!.cron, schedules[j]!.cron)) return true;
  }
  return false;
}

/**
 * BEHAVIOUR.md §3.1 by brute force: base when the schedules are unusable (`overlapping`, computed once by the caller with
 * oracleAnyOverlap), else the first containing schedule, else base.
 */
export function oracleDesired(base: number, zone: string, schedules: { cron: OracleCron; instances: number }[], overlapping: boolean, at: Date): number {
  if (overlapping) return base;
  for (const s of schedules) if (oracleContains(s.cron, zone, at)) return s.instances;
  return base;
}

/** Zones east and west of UTC, half- and quarter-hour offsets, DST in both hemispheres, a 30-minute DST shift. */
export const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'America/Los_Angeles',
  'America/St_Johns',
  'Asia/Tokyo',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'Australia/Sydney',
  'Pacific/Chatham',
];
