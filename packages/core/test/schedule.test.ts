import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  TimezoneError,
  describeScheduleProblem,
  desiredInstancesAt,
  desiredTimeline,
  isValidTimezone,
  nextDesiredChange,
  scheduleContains,
} from '@warmpool/core';
import { ZONES, listField, oracleAnyOverlap, oracleContains, oracleCronArb, oracleDesired, type OracleCron } from './oracle.js';

const at = (iso: string) => new Date(iso);
const MINUTE = 60_000;
const HOUR = 3_600_000;

/** Every minute start of [fromIso, toIso) contained by the expression, as ISO strings of the first and last. */
function containedSpan(cron: string, zone: string, fromIso: string, toIso: string, step = MINUTE): { first: string; last: string; minutes: number } | null {
  let first: number | null = null;
  let last = 0;
  let minutes = 0;
  for (let t = Date.parse(fromIso); t < Date.parse(toIso); t += step) {
    if (scheduleContains(cron, zone, new Date(t))) {
      first ??= t;
      last = t;
      minutes += step / MINUTE;
    }
  }
  return first === null ? null : { first: new Date(first).toISOString(), last: new Date(last).toISOString(), minutes };
}

describe('scheduleContains: boundaries (§3.2)', () => {
  const cron = '* 9-18 * * *';
  test('08:59:59 out, 09:00:00 in, 18:59:59 in, 19:00:00 out (UTC)', () => {
    assert.equal(scheduleContains(cron, 'UTC', at('2026-01-05T08:59:59Z')), false);
    assert.equal(scheduleContains(cron, 'UTC', at('2026-01-05T08:59:59.999Z')), false);
    assert.equal(scheduleContains(cron, 'UTC', at('2026-01-05T09:00:00Z')), true);
    assert.equal(scheduleContains(cron, 'UTC', at('2026-01-05T18:59:59Z')), true);
    assert.equal(scheduleContains(cron, 'UTC', at('2026-01-05T18:59:59.999Z')), true);
    assert.equal(scheduleContains(cron, 'UTC', at('2026-01-05T19:00:00Z')), false);
  });

  test('* 9-18 * * 1-5: Monday to Friday only', () => {
    const weekdays = '* 9-18 * * 1-5';
    assert.equal(scheduleContains(weekdays, 'UTC', at('2026-01-05T12:00:00Z')), true); // Monday
    assert.equal(scheduleContains(weekdays, 'UTC', at('2026-01-09T18:59:59Z')), true); // Friday
    assert.equal(scheduleContains(weekdays, 'UTC', at('2026-01-10T12:00:00Z')), false); // Saturday
    assert.equal(scheduleContains(weekdays, 'UTC', at('2026-01-11T12:00:00Z')), false); // Sunday
  });

  test('Asia/Tokyo (UTC+9): 09:00 local is 00:00Z', () => {
    assert.equal(scheduleContains(cron, 'Asia/Tokyo', at('2026-01-04T23:59:59Z')), false);
    assert.equal(scheduleContains(cron, 'Asia/Tokyo', at('2026-01-05T00:00:00Z')), true);
    assert.equal(scheduleContains(cron, 'Asia/Tokyo', at('2026-01-05T09:59:59Z')), true);
    assert.equal(scheduleContains(cron, 'Asia/Tokyo', at('2026-01-05T10:00:00Z')), false);
  });

  test('America/Los_Angeles (UTC-8 in winter, -7 in summer)', () => {
    assert.equal(scheduleContains(cron, 'America/Los_Angeles', at('2026-01-05T16:59:59Z')), false);
    assert.equal(scheduleContains(cron, 'America/Los_Angeles', at('2026-01-05T17:00:00Z')), true);
    assert.equal(scheduleContains(cron, 'America/Los_Angeles', at('2026-01-06T02:59:59Z')), true);
    assert.equal(scheduleContains(cron, 'America/Los_Angeles', at('2026-01-06T03:00:00Z')), false);
    assert.equal(scheduleContains(cron, 'America/Los_Angeles', at('2026-07-06T15:59:59Z')), false);
    assert.equal(scheduleContains(cron, 'America/Los_Angeles', at('2026-07-06T16:00:00Z')), true);
  });

  test('Asia/Kolkata (UTC+5:30): the range starts and ends at half past in UTC', () => {
    assert.equal(scheduleContains(cron, 'Asia/Kolkata', at('2026-01-05T03:29:59Z')), false);
    assert.equal(scheduleContains(cron, 'Asia/Kolkata', at('2026-01-05T03:30:00Z')), true);
    assert.equal(scheduleContains(cron, 'Asia/Kolkata', at('2026-01-05T13:29:59Z')), true);
    assert.equal(scheduleContains(cron, 'Asia/Kolkata', at('2026-01-05T13:30:00Z')), false);
  });

  test('the local day decides the weekday and day of month, not the UTC day', () => {
    // Sunday 20:00Z is Monday 05:00 in Tokyo and Sunday 12:00 in Los Angeles.
    const t = at('2026-01-04T20:00:00Z');
    assert.equal(scheduleContains('* * * * 1', 'Asia/Tokyo', t), true);
    assert.equal(scheduleContains('* * * * 1', 'UTC', t), false);
    assert.equal(scheduleContains('* * * * 0', 'America/Los_Angeles', t), true);
    assert.equal(scheduleContains('* * 5 * *', 'Asia/Tokyo', t), true);
    // Dec 31 23:30Z is already January in Tokyo.
    assert.equal(scheduleContains('* * 1 1 *', 'Asia/Tokyo', at('2025-12-31T23:30:00Z')), true);
    assert.equal(scheduleContains('* * 1 1 *', 'UTC', at('2025-12-31T23:30:00Z')), false);
  });

  test('invalid zone or cron throws', () => {
    assert.throws(() => scheduleContains(cron, 'Mars/Olympus', at('2026-01-05T12:00:00Z')), TimezoneError);
    assert.throws(() => scheduleContains(cron, '', at('2026-01-05T12:00:00Z')), TimezoneError);
    assert.throws(() => scheduleContains('* 9-18 * *', 'UTC', at('2026-01-05T12:00:00Z')), /5 fields/);
  });
});

describe('scheduleContains: day rule (§3.2)', () => {
  // January 2026: the 13th is a Tuesday, the 16th a Friday, the 14th a Wednesday; Feb 13 2026 is a Friday.
  const noon = (day: string) => at(`2026-${day}T12:00:00Z`);
  test('dom restricted, dow *: only the day of month matches', () => {
    assert.equal(scheduleContains('* * 13 * *', 'UTC', noon('01-13')), true);
    assert.equal(scheduleContains('* * 13 * *', 'UTC', noon('01-16')), false);
  });
  test('dom *, dow restricted: only the weekday matches', () => {
    assert.equal(scheduleContains('* * * * 5', 'UTC', noon('01-16')), true);
    assert.equal(scheduleContains('* * * * 5', 'UTC', noon('01-13')), false);
  });
  test('both restricted: either matches', () => {
    assert.equal(scheduleContains('* * 13 * 5', 'UTC', noon('01-13')), true); // 13th, a Tuesday
    assert.equal(scheduleContains('* * 13 * 5', 'UTC', noon('01-16')), true); // Friday the 16th
    assert.equal(scheduleContains('* * 13 * 5', 'UTC', noon('02-13')), true); // both
    assert.equal(scheduleContains('* * 13 * 5', 'UTC', noon('01-14')), false); // neither
  });
  test('*/2, 1-31 and 0-6 are restricted, so they switch to "either"', () => {
    assert.equal(scheduleContains('* * 13 * 0-6', 'UTC', noon('01-14')), true);
    assert.equal(scheduleContains('* * 1-31 * 1', 'UTC', noon('01-14')), true);
    assert.equal(scheduleContains('* * */2 * 1', 'UTC', noon('01-12')), true); // even day, Monday
    assert.equal(scheduleContains('* * */2 * 1', 'UTC', noon('01-15')), true); // odd day, Thursday
    assert.equal(scheduleContains('* * */2 * 1', 'UTC', noon('01-14')), false); // even day, Wednesday
    assert.equal(scheduleContains('* * */2 * *', 'UTC', noon('01-14')), false); // dow *: both must match
  });
  test('month field restricts every day', () => {
    assert.equal(scheduleContains('* * 13 2 5', 'UTC', noon('01-16')), false);
    assert.equal(scheduleContains('* * 13 2 5', 'UTC', noon('02-13')), true);
  });
  test('Feb 29 exists in leap years only; Feb 30 and 31 never', () => {
    assert.equal(scheduleContains('* * 29 2 *', 'UTC', at('2028-02-29T12:00:00Z')), true);
    assert.equal(containedSpan('* * 30,31 2 *', 'UTC', '2028-02-01T00:00:00Z', '2028-03-02T00:00:00Z', HOUR), null);
  });
});

describe('scheduleContains: daylight saving (§3.2)', () => {
  test('America/New_York spring forward 2026-03-08: the missing 02:00 hour is skipped', () => {
    assert.equal(containedSpan('* 2 * * *', 'America/New_York', '2026-03-08T04:00:00Z', '2026-03-09T04:00:00Z'), null);
    assert.deepEqual(containedSpan('* 1 * * *', 'America/New_York', '2026-03-08T04:00:00Z', '2026-03-09T04:00:00Z'), {
      first: '2026-03-08T06:00:00.000Z',
      last: '2026-03-08T06:59:00.000Z',
      minutes: 60,
    });
    assert.deepEqual(containedSpan('* 3 * * *', 'America/New_York', '2026-03-08T04:00:00Z', '2026-03-09T04:00:00Z'), {
      first: '2026-03-08T07:00:00.000Z',
      last: '2026-03-08T07:59:00.000Z',
      minutes: 60,
    });
    // 01:00-03:59 local lasts two real hours that day.
    assert.equal(containedSpan('* 1-3 * * *', 'America/New_York', '2026-03-08T04:00:00Z', '2026-03-09T04:00:00Z')?.minutes, 120);
  });

  test('America/New_York fall back 2026-11-01: the repeated 01:00 hour is in range twice', () => {
    assert.deepEqual(containedSpan('* 1 * * *', 'America/New_York', '2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z'), {
      first: '2026-11-01T05:00:00.000Z',
      last: '2026-11-01T06:59:00.000Z',
      minutes: 120,
    });
    assert.equal(scheduleContains('* 1 * * *', 'America/New_York', at('2026-11-01T04:59:59Z')), false);
    assert.equal(scheduleContains('* 1 * * *', 'America/New_York', at('2026-11-01T07:00:00Z')), false);
    assert.equal(scheduleContains('* 2 * * *', 'America/New_York', at('2026-11-01T07:00:00Z')), true);
  });

  test('Europe/Berlin: 2026-03-29 has no 02:00 hour, 2026-10-25 has it twice', () => {
    assert.equal(containedSpan('* 2 * * *', 'Europe/Berlin', '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z'), null);
    assert.deepEqual(containedSpan('* 2 * * *', 'Europe/Berlin', '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z'), {
      first: '2026-10-25T00:00:00.000Z',
      last: '2026-10-25T01:59:00.000Z',
      minutes: 120,
    });
    // A working-hours range is 10 real hours on both transition days (the shift happens at night).
    assert.equal(containedSpan('* 9-18 * * *', 'Europe/Berlin', '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z')?.minutes, 600);
  });
});

describe('desiredInstancesAt (§3.1)', () => {
  const base = { instances: 2, timezone: 'Europe/Berlin', schedules: [] as { cron: string; instances: number }[] };
  const office = { ...base, schedules: [{ cron: '* 9-18 * * 1-5', instances: 5 }, { cron: '* 9-18 * * 0,6', instances: 1 }] };

  test('no schedules: the base count', () => {
    assert.equal(desiredInstancesAt(base, at('2026-01-05T10:00:00Z')), 2);
    assert.equal(desiredInstancesAt({ ...base, timezone: '' }, at('2026-01-05T10:00:00Z')), 2);
  });

  test('the containing schedule wins; outside every schedule the base count', () => {
    assert.equal(desiredInstancesAt(office, at('2026-01-05T07:59:59Z')), 2); // Monday 08:59:59 CET
    assert.equal(desiredInstancesAt(office, at('2026-01-05T08:00:00Z')), 5); // Monday 09:00 CET
    assert.equal(desiredInstancesAt(office, at('2026-01-05T17:59:59Z')), 5);
    assert.equal(desiredInstancesAt(office, at('2026-01-05T18:00:00Z')), 2);
    assert.equal(desiredInstancesAt(office, at('2026-01-10T12:00:00Z')), 1); // Saturday
  });

  test('a schedule may ask for zero instances', () => {
    const nights = { ...base, schedules: [{ cron: '* 0-5 * * *', instances: 0 }] };
    assert.equal(desiredInstancesAt(nights, at('2026-01-05T03:00:00Z')), 0);
    assert.equal(desiredInstancesAt(nights, at('2026-01-05T06:00:00Z')), 2);
  });

  test('unusable stored data falls back to the base count without throwing, and is described', () => {
    const cases = [
      { ...office, timezone: 'Not/AZone' },
      { ...office, timezone: '' },
      { ...base, schedules: [{ cron: '0 9 * * *', instances: 5 }] },
      { ...base, schedules: [{ cron: '* 9-12 * * *', instances: 5 }, { cron: '* 12-14 * * *', instances: 1 }] },
      { ...base, schedules: [{ cron: '* 9 * * *', instances: -1 }] },
      { ...base, schedules: [null as unknown as { cron: string; instances: number }] },
    ];
    for (const preset of cases) {
      assert.equal(desiredInstancesAt(preset, at('2026-01-05T11:30:00Z')), 2, JSON.stringify(preset));
      assert.notEqual(describeScheduleProblem(preset), null, JSON.stringify(preset));
    }
    assert.match(describeScheduleProblem(cases[3]!)!, /\* 9-12 \* \* \*.*\* 12-14 \* \* \*/);
    assert.equal(describeScheduleProblem(office), null);
    assert.equal(describeScheduleProblem(base), null);
  });

  test('the problem memo distinguishes instance counts of the same expressions', () => {
    const crons = { ...base, timezone: 'Asia/Tokyo', schedules: [{ cron: '* 7 * * *', instances: 3 }] };
    assert.equal(describeScheduleProblem(crons), null);
    const broken = { ...crons, schedules: [{ cron: '* 7 * * *', instances: 1.5 }] };
    assert.notEqual(describeScheduleProblem(broken), null);
    assert.equal(desiredInstancesAt(broken, at('2026-01-05T22:30:00Z')), 2);
  });

  test('an invalid instant gives the base count', () => {
    assert.equal(desiredInstancesAt(office, new Date(Number.NaN)), 2);
  });
});

describe('nextDesiredChange and desiredTimeline', () => {
  const preset = { instances: 1, timezone: 'UTC', schedules: [{ cron: '* 9-18 * * 1-5', instances: 4 }] };

  test('the change happens exactly at the local hour start', () => {
    assert.deepEqual(nextDesiredChange(preset, at('2026-01-05T08:59:59.999Z')), { at: at('2026-01-05T09:00:00Z'), instances: 4 });
    assert.deepEqual(nextDesiredChange(preset, at('2026-01-05T09:00:00Z')), { at: at('2026-01-05T19:00:00Z'), instances: 1 });
    // Friday evening to Monday morning.
    assert.deepEqual(nextDesiredChange(preset, at('2026-01-09T19:00:00Z')), { at: at('2026-01-12T09:00:00Z'), instances: 4 });
  });

  test('zones: Kolkata changes at half past in UTC, Los Angeles in the afternoon', () => {
    const kolkata = { ...preset, timezone: 'Asia/Kolkata' };
    assert.deepEqual(nextDesiredChange(kolkata, at('2026-01-05T00:00:00Z')), { at: at('2026-01-05T03:30:00Z'), instances: 4 });
    const la = { ...preset, timezone: 'America/Los_Angeles' };
    assert.deepEqual(nextDesiredChange(la, at('2026-01-05T00:00:00Z')), { at: at('2026-01-05T17:00:00Z'), instances: 4 });
  });

  test('DST: New York spring forward and fall back', () => {
    const ny = { instances: 0, timezone: 'America/New_York', schedules: [{ cron: '* 1 * * *', instances: 3 }] };
    assert.deepEqual(nextDesiredChange(ny, at('2026-03-08T06:30:00Z')), { at: at('2026-03-08T07:00:00Z'), instances: 0 });
    assert.deepEqual(nextDesiredChange(ny, at('2026-11-01T04:00:00Z')), { at: at('2026-11-01T05:00:00Z'), instances: 3 });
    assert.deepEqual(nextDesiredChange(ny, at('2026-11-01T05:00:00Z')), { at: at('2026-11-01T07:00:00Z'), instances: 0 });
    const skipped = { ...ny, schedules: [{ cron: '* 2 * * *', instances: 3 }] };
    // 2026-03-08 has no 02:00: the next range starts on 2026-03-09 at 02:00 EDT.
    assert.deepEqual(nextDesiredChange(skipped, at('2026-03-08T05:00:00Z')), { at: at('2026-03-09T06:00:00Z'), instances: 3 });
  });

  test('a 30-minute DST shift (Australia/Lord_Howe) terminates and finds the shifted boundaries', () => {
    const lh = { instances: 1, timezone: 'Australia/Lord_Howe', schedules: [{ cron: '* 1 * * *', instances: 5 }] };
    // DST ends 2026-04-05 02:00 (+11) → 01:30 (+10:30): local hour 1 runs 14:00Z-15:30Z.
    assert.deepEqual(nextDesiredChange(lh, at('2026-04-04T12:00:00Z')), { at: at('2026-04-04T14:00:00Z'), instances: 5 });
    assert.deepEqual(nextDesiredChange(lh, at('2026-04-04T14:00:00Z')), { at: at('2026-04-04T15:30:00Z'), instances: 1 });
    // DST starts 2026-10-04 02:00 (+10:30) → 02:30 (+11): local hour 2 starts at the transition, 15:30Z.
    const two = { ...lh, schedules: [{ cron: '* 2 * * *', instances: 5 }] };
    assert.deepEqual(nextDesiredChange(two, at('2026-10-03T12:00:00Z')), { at: at('2026-10-03T15:30:00Z'), instances: 5 });
    assert.deepEqual(nextDesiredChange(two, at('2026-10-03T15:30:00Z')), { at: at('2026-10-03T16:00:00Z'), instances: 1 });
  });

  test('horizon: null beyond it, a change exactly at the horizon included', () => {
    const yearly = { instances: 1, timezone: 'UTC', schedules: [{ cron: '* * 1 1 *', instances: 9 }] };
    assert.equal(nextDesiredChange(yearly, at('2026-02-01T00:00:00Z')), null);
    assert.deepEqual(nextDesiredChange(yearly, at('2026-12-31T00:00:00Z'), 24 * HOUR), { at: at('2027-01-01T00:00:00Z'), instances: 9 });
    assert.equal(nextDesiredChange(yearly, at('2026-12-31T00:00:00Z'), 24 * HOUR - 1), null);
  });

  test('no schedules, unusable schedules or a constant count: null', () => {
    assert.equal(nextDesiredChange({ ...preset, schedules: [] }, at('2026-01-05T00:00:00Z')), null);
    assert.equal(nextDesiredChange({ ...preset, timezone: 'Bad/Zone' }, at('2026-01-05T00:00:00Z')), null);
    assert.equal(nextDesiredChange({ ...preset, schedules: [{ cron: '* * * * *', instances: 3 }] }, at('2026-01-05T00:00:00Z')), null);
    assert.equal(nextDesiredChange({ ...preset, schedules: [{ cron: '* 9 * * *', instances: 1 }] }, at('2026-01-05T00:00:00Z')), null);
  });

  test('desiredTimeline: the value at from, then every change up to and including to', () => {
    const points = desiredTimeline(preset, at('2026-01-09T12:00:00Z'), at('2026-01-12T09:00:00Z'));
    assert.deepEqual(points, [
      { at: at('2026-01-09T12:00:00Z'), instances: 4 },
      { at: at('2026-01-09T19:00:00Z'), instances: 1 },
      { at: at('2026-01-12T09:00:00Z'), instances: 4 },
    ]);
    assert.deepEqual(desiredTimeline({ ...preset, schedules: [] }, at('2026-01-09T12:00:00Z'), at('2026-01-19T12:00:00Z')), [
      { at: at('2026-01-09T12:00:00Z'), instances: 1 },
    ]);
  });
});

describe('isValidTimezone', () => {
  test('IANA names are valid; empty, unknown and offsets are not', () => {
    for (const z of ['UTC', 'Europe/Berlin', 'Asia/Kolkata', 'America/Los_Angeles']) assert.equal(isValidTimezone(z), true, z);
    for (const z of ['', 'Mars/Olympus', '+02:00', 'Europe/Berlin ']) assert.equal(isValidTimezone(z), false, z);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Property tests against the brute-force oracle.

type Case = { base: number; zone: string; schedules: { cron: OracleCron; instances: number }[] };

/** Random schedules; about half the cases get disjoint hour sets so that they are usable (no overlap). */
const caseArb: fc.Arbitrary<Case> = fc
  .record({
    base: fc.integer({ min: 0, max: 5 }),
    zone: fc.constantFrom(...ZONES),
    crons: fc.array(oracleCronArb, { minLength: 1, maxLength: 3 }),
    counts: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 3, maxLength: 3 }),
    disjoint: fc.boolean(),
    hours: fc.shuffledSubarray(Array.from({ length: 24 }, (_, h) => h), { minLength: 3, maxLength: 24 }),
  })
  .map(({ base, zone, crons, counts, disjoint, hours }) => ({
    base,
    zone,
    schedules: crons.map((cron, i) => {
      const own = disjoint ? { ...cron, hours: listField(hours.filter((_, k) => k % crons.length === i)) } : cron;
      const text = `* ${own.hours.text} ${own.dom.text} ${own.month.text} ${own.dow.text}`;
      return { cron: { ...own, text }, instances: counts[i]! };
    }),
  }));

const star = (min: number, max: number) => ({ text: '*', values: new Set(Array.from({ length: max - min + 1 }, (_, i) => min + i)), star: true });

const toPreset = (c: Case) => ({ instances: c.base, timezone: c.zone, schedules: c.schedules.map((s) => ({ cron: s.cron.text, instances: s.instances })) });

// Instants: anywhere in 2020-2030, or within a few hours of a DST transition of the zones above.
const TRANSITIONS = [
  '2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z', '2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z',
  '2026-04-04T15:00:00Z', '2026-10-03T15:30:00Z', '2026-04-04T16:00:00Z', '2026-10-03T16:00:00Z',
  '2026-04-04T13:45:00Z', '2026-09-26T14:00:00Z', '2026-03-08T05:30:00Z', '2026-11-01T04:30:00Z',
].map(Date.parse);
const instantArb = fc.oneof(
  fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 11, 31) }),
  fc.tuple(fc.constantFrom(...TRANSITIONS), fc.integer({ min: -3 * HOUR, max: 3 * HOUR })).map(([t, d]) => t + d),
);

/** CORE_PROPERTY_SCALE=10 runs ten times more cases (for a deeper local check than the suite's default). */
const RUNS = (n: number) => n * Number(process.env.CORE_PROPERTY_SCALE ?? 1);

describe('properties against a brute-force Intl oracle', () => {
  test('desiredInstancesAt equals the oracle over random schedules, zones and instants', () => {
    fc.assert(
      fc.property(caseArb, fc.array(instantArb, { minLength: 1, maxLength: 20 }), (c, instants) => {
        const overlapping = oracleAnyOverlap(c.schedules);
        const preset = toPreset(c);
        assert.equal(describeScheduleProblem(preset) !== null, overlapping);
        for (const ms of instants) {
          const t = new Date(ms);
          assert.equal(desiredInstancesAt(preset, t), oracleDesired(c.base, c.zone, c.schedules, overlapping, t), `${JSON.stringify(preset)} @ ${t.toISOString()}`);
        }
      }),
      { numRuns: RUNS(400) },
    );
  });

  test('scheduleContains at the second before and at each local hour start equals the oracle', () => {
    fc.assert(
      fc.property(oracleCronArb, fc.constantFrom(...ZONES), instantArb, (cron, zone, ms) => {
        for (let t = ms - (ms % MINUTE); t < ms + 2 * HOUR; t += 15 * MINUTE) {
          for (const probe of [t - 1000, t]) {
            const d = new Date(probe);
            assert.equal(scheduleContains(cron.text, zone, d), oracleContains(cron, zone, d), `${cron.text} ${zone} ${d.toISOString()}`);
          }
        }
      }),
      { numRuns: RUNS(150) },
    );
  });

  test('nextDesiredChange agrees with a minute-by-minute scan', () => {
    const horizon = 36 * HOUR;
    fc.assert(
      fc.property(caseArb, instantArb, (c, ms) => {
        const overlapping = oracleAnyOverlap(c.schedules);
        const value = (t: number) => oracleDesired(c.base, c.zone, c.schedules, overlapping, new Date(t));
        const initial = value(ms);
        let expected: { at: Date; instances: number } | null = null;
        for (let t = ms - (((ms % MINUTE) + MINUTE) % MINUTE) + MINUTE; t <= ms + horizon; t += MINUTE) {
          const v = value(t);
          if (v !== initial) {
            expected = { at: new Date(t), instances: v };
            break;
          }
        }
        assert.deepEqual(nextDesiredChange(toPreset(c), new Date(ms), horizon), expected, `${JSON.stringify(toPreset(c))} after ${new Date(ms).toISOString()}`);
      }),
      { numRuns: RUNS(60) },
    );
  });

  test('a whole year of timeline in DST zones equals a 15-minute oracle scan', () => {
    for (const zone of ['America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'Pacific/Chatham', 'Asia/Kolkata']) {
      const crons = [
        { cron: { text: '* 2 * * *', hours: listField([2]), dom: star(1, 31), month: star(1, 12), dow: star(0, 6) }, instances: 3 },
        { cron: { text: '* 9-17 * * 1-5', hours: listField([9, 10, 11, 12, 13, 14, 15, 16, 17]), dom: star(1, 31), month: star(1, 12), dow: listField([1, 2, 3, 4, 5]) }, instances: 5 },
      ];
      const preset = { instances: 1, timezone: zone, schedules: crons.map((c) => ({ cron: c.cron.text, instances: c.instances })) };
      const from = Date.UTC(2026, 0, 1);
      const to = Date.UTC(2027, 0, 1);
      const expected: { at: Date; instances: number }[] = [];
      for (let t = from; t <= to; t += 15 * MINUTE) {
        const v = oracleDesired(1, zone, crons, false, new Date(t));
        if (expected.at(-1)?.instances !== v) expected.push({ at: new Date(t), instances: v });
      }
      assert.deepEqual(desiredTimeline(preset, new Date(from), new Date(to)), expected, zone);
    }
  });

  test('desiredTimeline is consistent with desiredInstancesAt between its points', () => {
    fc.assert(
      fc.property(caseArb, instantArb, (c, ms) => {
        const preset = toPreset(c);
        const from = new Date(ms);
        const to = new Date(ms + 3 * 24 * HOUR);
        const points = desiredTimeline(preset, from, to);
        assert.deepEqual(points[0], { at: from, instances: desiredInstancesAt(preset, from) });
        for (let i = 1; i < points.length; i++) {
          const p = points[i]!;
          assert.ok(p.at > points[i - 1]!.at && p.at <= to);
          assert.notEqual(p.instances, points[i - 1]!.instances);
          assert.equal(desiredInstancesAt(preset, p.at), p.instances);
          assert.equal(desiredInstancesAt(preset, new Date(p.at.getTime() - 1)), points[i - 1]!.instances);
        }
      }),
      { numRuns: RUNS(60) },
    );
  });
});
