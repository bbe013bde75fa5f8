import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CronError, parseCron, rangesOverlap, scheduleContains, validateSchedules } from '@warmpool/core';
import { oracleCronArb, oracleOverlap } from './oracle.js';

const sorted = (s: ReadonlySet<number>) => [...s].sort((a, b) => a - b);

describe('parseCron: accepted forms', () => {
  test('star, numbers, ranges, lists and steps after * or a range', () => {
    const r = parseCron('* 8-18/2 1,15,20-22 */3 1-5');
    assert.deepEqual(sorted(r.hours), [8, 10, 12, 14, 16, 18]);
    assert.deepEqual(sorted(r.daysOfMonth), [1, 15, 20, 21, 22]);
    assert.deepEqual(sorted(r.months), [1, 4, 7, 10]);
    assert.deepEqual(sorted(r.daysOfWeek), [1, 2, 3, 4, 5]);
    assert.equal(r.dayOfMonthIsStar, false);
    assert.equal(r.dayOfWeekIsStar, false);
  });

  test('field bounds: hours 0-23, day-of-month 1-31, month 1-12, day-of-week 0-6', () => {
    const r = parseCron('* 0,23 1,31 1,12 0,6');
    assert.deepEqual(sorted(r.hours), [0, 23]);
    assert.deepEqual(sorted(r.daysOfMonth), [1, 31]);
    assert.deepEqual(sorted(r.months), [1, 12]);
    assert.deepEqual(sorted(r.daysOfWeek), [0, 6]);
  });

  test('a day field is * only when its text is exactly *', () => {
    assert.equal(parseCron('* * * * *').dayOfMonthIsStar, true);
    assert.equal(parseCron('* * * * *').dayOfWeekIsStar, true);
    for (const dom of ['*/1', '*/2', '1-31']) assert.equal(parseCron(`* * ${dom} * *`).dayOfMonthIsStar, false, dom);
    for (const dow of ['*/1', '*/2', '0-6']) assert.equal(parseCron(`* * * * ${dow}`).dayOfWeekIsStar, false, dow);
  });

  test('steps are counted from the start of the range', () => {
    assert.deepEqual(sorted(parseCron('* */5 * * *').hours), [0, 5, 10, 15, 20]);
    assert.deepEqual(sorted(parseCron('* 9-17/4 * * *').hours), [9, 13, 17]);
    assert.deepEqual(sorted(parseCron('* * */10 * *').daysOfMonth), [1, 11, 21, 31]);
    assert.deepEqual(sorted(parseCron('* 7-7 * * *').hours), [7]);
  });

  test('surrounding and repeated whitespace between fields is accepted', () => {
    assert.deepEqual(sorted(parseCron('  *   9-10 *  * * ').hours), [9, 10]);
  });
});

describe('parseCron: rejected forms', () => {
  const invalid: [string, string][] = [
    ['* 5/2 * * *', 'step after a single number'],
    ['* * 1/2 * *', 'step after a single number (dom)'],
    ['* * * * MON', 'day name'],
    ['* * * * mon-fri', 'day name range'],
    ['* * * JAN *', 'month name'],
    ['* * ? * *', '?'],
    ['* * * * ?', '? in dow'],
    ['* * L * *', 'L'],
    ['* * * * 5L', 'L in dow'],
    ['* * 15W * *', 'W'],
    ['* * * * 1#2', '#'],
    ['* * * * 7', 'day-of-week 7'],
    ['* * * * 0-7', 'day-of-week range to 7'],
    ['* 18-9 * * *', 'reversed range'],
    ['* 22-5 * * *', 'wrap-around range'],
    ['* * * * 5-1', 'wrap-around weekdays'],
    ['* * *', '3 fields'],
    ['* * * *', '4 fields'],
    ['* * * * * *', '6 fields'],
    ['', 'empty'],
    ['   ', 'blank'],
    ['0 9 * * *', 'minute not *'],
    ['*/5 9 * * *', 'minute step'],
    ['0-59 9 * * *', 'minute range'],
    ['* 24 * * *', 'hour 24'],
    ['* * 0 * *', 'day-of-month 0'],
    ['* * 32 * *', 'day-of-month 32'],
    ['* * * 0 *', 'month 0'],
    ['* * * 13 *', 'month 13'],
    ['* -1 * * *', 'negative'],
    ['* */0 * * *', 'zero step'],
    ['* */ * * *', 'empty step'],
    ['* */2/2 * * *', 'two steps'],
    ['* 1-2-3 * * *', 'malformed range'],
    ['* 1,,2 * * *', 'empty list item'],
    ['* 1, * * *', 'trailing comma'],
    ['* 9.5 * * *', 'decimal'],
    ['* 100 * * *', 'three digits'],
    ['@daily', 'macro'],
    ['* H * * *', 'H'],
  ];
  for (const [expr, why] of invalid) {
    test(`${why}: ${JSON.stringify(expr)}`, () => {
      assert.throws(() => parseCron(expr), CronError);
      const problems = validateSchedules([expr]);
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /\S/);
      assert.throws(() => scheduleContains(expr, 'UTC', new Date('2026-01-05T10:00:00Z')), CronError);
    });
  }

  test('the error names the expression and the field', () => {
    assert.throws(() => parseCron('* 25 * * *'), (err: Error) => err.message.includes('* 25 * * *') && err.message.includes('hour'));
    assert.throws(() => parseCron('* * * * 7'), (err: Error) => err.message.includes('day-of-week'));
  });
});

describe('validateSchedules and overlap (§3.3)', () => {
  test('valid, non-overlapping lists give no problem', () => {
    assert.deepEqual(validateSchedules([]), []);
    assert.deepEqual(validateSchedules(['* 9-18 * * 1-5']), []);
    assert.deepEqual(validateSchedules(['* 9-11 * * *', '* 12-14 * * *']), []);
  });

  test('touching ranges: 9-12 and 12-14 share hour 12, 9-11 and 12-14 do not', () => {
    const problems = validateSchedules(['* 9-12 * * *', '* 12-14 * * *']);
    assert.equal(problems.length, 1);
    assert.ok(problems[0]!.includes('* 9-12 * * *') && problems[0]!.includes('* 12-14 * * *'));
    assert.deepEqual(validateSchedules(['* 9-11 * * *', '* 12-14 * * *']), []);
  });

  test('each overlapping pair is reported by both expressions', () => {
    const problems = validateSchedules(['* 8-10 * * *', '* 10-12 * * *', '* 9 * * *', '* 20 * * *']);
    // 8-10 meets 10-12 at 10 and contains 9; 10-12 and 9 share nothing; 20 is alone.
    assert.equal(problems.length, 2);
    assert.ok(problems.some((p) => p.includes('* 8-10 * * *') && p.includes('* 10-12 * * *')));
    assert.ok(problems.some((p) => p.includes('* 8-10 * * *') && p.includes('* 9 * * *')));
  });

  test('weekdays vs weekend at the same hours do not overlap; weekend vs Sunday do', () => {
    assert.deepEqual(validateSchedules(['* 9-18 * * 1-5', '* 9-18 * * 0,6']), []);
    assert.equal(validateSchedules(['* 9-18 * * 0,6', '* 12 * * 0']).length, 1);
  });

  test('different months at the same hours do not overlap', () => {
    assert.deepEqual(validateSchedules(['* * * 1-6 *', '* * * 7-12 *']), []);
  });

  test('day rule in overlap: dom-only vs dow-only (both restricted-with-star) overlap when some date has that weekday', () => {
    // 13th of a month on a Friday exists.
    assert.equal(validateSchedules(['* 9 13 * *', '* 9 * * 5']).length, 1);
    // With both restricted, the schedule matches the 1st OR any Monday, so it overlaps every Monday-only schedule.
    assert.equal(validateSchedules(['* 9 1 * 1', '* 9 * * 1']).length, 1);
    // Classic rule: dom 1 with dow * means only the 1st; Tuesdays-only overlaps because the 1st can be a Tuesday.
    assert.equal(validateSchedules(['* 9 1 * *', '* 9 * * 2']).length, 1);
  });

  test('Feb 29 overlaps a weekday-only schedule (Feb 29 falls on every weekday in some year)', () => {
    assert.equal(validateSchedules(['* * 29 2 *', '* * * * 1']).length, 1);
    assert.equal(validateSchedules(['* * 29 2 *', '* * 29 * 1']).length, 1);
    assert.equal(validateSchedules(['* * 29 2 *', '* * 29 2 *']).length, 1);
  });

  test('impossible dates match nothing, so they overlap nothing', () => {
    assert.deepEqual(validateSchedules(['* * 31 2 *', '* * * * *']), []);
    assert.deepEqual(validateSchedules(['* * 30 2 *', '* * * * *']), []);
    assert.deepEqual(validateSchedules(['* * 31 4,6,9,11 *', '* * * 4 *']), []);
    // 31 in a month that has it does overlap.
    assert.equal(validateSchedules(['* * 31 1-3 *', '* * * 3 *']).length, 1);
    // Both restricted: "31st of February OR Mondays" does match Mondays in February.
    assert.equal(validateSchedules(['* * 31 2 1', '* * * 2 *']).length, 1);
  });

  test('invalid and overlapping problems are both reported', () => {
    const problems = validateSchedules(['* 5/2 * * *', '* 9 * * *', '* 9 * * 1']);
    assert.equal(problems.length, 2);
    assert.ok(problems.some((p) => p.includes('5/2')));
    assert.ok(problems.some((p) => p.includes('overlap')));
  });

  test('property: rangesOverlap equals a scan of every real calendar day of 28 years', () => {
    fc.assert(
      fc.property(oracleCronArb, oracleCronArb, (a, b) => {
        const expected = oracleOverlap(a, b);
        assert.equal(rangesOverlap(parseCron(a.text), parseCron(b.text)), expected, `${a.text} | ${b.text}`);
        assert.equal(validateSchedules([a.text, b.text]).length, expected ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });

  test('property: generated expressions parse to exactly the generated values', () => {
    fc.assert(
      fc.property(oracleCronArb, (c) => {
        const r = parseCron(c.text);
        assert.deepEqual(sorted(r.hours), sorted(c.hours.values));
        assert.deepEqual(sorted(r.daysOfMonth), sorted(c.dom.values));
        assert.deepEqual(sorted(r.months), sorted(c.month.values));
        assert.deepEqual(sorted(r.daysOfWeek), sorted(c.dow.values));
        assert.equal(r.dayOfMonthIsStar, c.dom.star);
        assert.equal(r.dayOfWeekIsStar, c.dow.star);
      }),
      { numRuns: 300 },
    );
  });
});
