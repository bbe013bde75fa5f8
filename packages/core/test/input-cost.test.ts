import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CronError,
  describeScheduleProblem,
  isValidTimezone,
  MAX_CRON_LENGTH,
  MAX_REPORTED_PROBLEMS,
  parseCron,
  rangesOverlap,
  replay,
  scheduleCacheSizes,
  validateManifest,
  validateSchedules,
} from '@warmpool/core';

/**
 * Issue 21: inputs that drive CPU or memory are bounded. Costs are checked by counting work (reads, membership
 * tests), which load on a shared machine does not change; the one time budget is a loose backstop.
 */

const DAY_MS = 86_400_000;

/** 62 schedules no two of which overlap, half of them sharing every hour and month: the costliest valid layout. */
const slowSchedules = () =>
  Array.from({ length: 62 }, (_, i) => ({ cron: `* ${i < 31 ? '0-11' : '12-23'} ${(i % 31) + 1} * *`, instances: 2 }));

describe('cron length (issue 21, finding 4)', () => {
  test('an expression longer than MAX_CRON_LENGTH is refused, naming the limit and the length', () => {
    const long = `* 9 * * ${'1-5,'.repeat(80)}1-5`;
    assert.ok(long.length > MAX_CRON_LENGTH);
    assert.throws(() => parseCron(long), (err: Error) => err instanceof CronError && err.message === `cron must be at most ${MAX_CRON_LENGTH} characters (got ${long.length})`);
    const result = validateManifest({ name: 'v', presets: [{ name: 'p', prebuilds: { instances: 1, scheduling: { timezone: 'UTC', schedule: [{ cron: long, instances: 2 }] } } }] });
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.errors.some((e) => e.path === 'presets[0].prebuilds.scheduling.schedule[0].cron' && e.message.includes(`at most ${MAX_CRON_LENGTH}`)));
  });

  test('a replay over 28 days reads a large schedule list a fixed number of times, not at every step', () => {
    // 64 schedules at the length limit; each read of a `cron` is counted. The old code rebuilt a key from the whole
    // list every simulated quarter hour (2,688 times over 28 days; seconds for a 0.9 MB list).
    let reads = 0;
    const schedules = Array.from({ length: 64 }, (_, i) => {
      const cron = `* ${Array.from({ length: 80 }, () => String(i % 24).padStart(2, '0')).join(',')} ${Math.floor(i / 24) + 1} * *`;
      return { instances: 2, get cron() { reads++; return cron; } };
    });
    assert.ok(schedules.every((s) => s.cron.length <= MAX_CRON_LENGTH));
    assert.deepEqual(validateSchedules(schedules.map((s) => s.cron)), [], 'valid and without overlaps');
    reads = 0;
    const to = new Date('2026-12-01T00:00:00Z');
    const from = new Date(to.getTime() - 28 * DAY_MS);
    const started = performance.now();
    const result = replay({ policy: null, schedule: { instances: 1, timezone: 'Europe/Berlin', schedules }, requests: [], from, to, leadTimeSeconds: 300 });
    const elapsed = performance.now() - started;
    assert.equal(result.hours.length, 28 * 24);
    assert.ok(result.hours.some((h) => h.desired === 2), 'the schedules apply');
    assert.ok(reads <= 10 * schedules.length, `the schedule list was read ${reads} times`);
    assert.ok(elapsed < 5_000, `replay took ${Math.round(elapsed)} ms (budget 5,000 ms: the read count above is the exact check)`);
  });
});

describe('schedule overlap cost (issue 21, finding 7)', () => {
  test('comparing every pair of 62 schedules reads each range a fixed number of times, not once per pair', () => {
    // Membership tests are counted: the day-by-day comparison made up to 2,604 × 4 per pair (5.6 s for 100 presets
    // × 62 schedules); the bit sets make 2,604 × 2 per range, once, whatever the number of pairs.
    let lookups = 0;
    class Counting extends Set<number> {
      override has(value: number): boolean {
        lookups++;
        return super.has(value);
      }
    }
    const ranges = slowSchedules().map(({ cron }) => {
      const r = parseCron(cron);
      return { ...r, hours: new Counting(r.hours), daysOfMonth: new Counting(r.daysOfMonth), months: new Counting(r.months), daysOfWeek: new Counting(r.daysOfWeek) };
    });
    for (let a = 0; a < ranges.length; a++) for (let b = a + 1; b < ranges.length; b++) assert.equal(rangesOverlap(ranges[a]!, ranges[b]!), false);
    assert.ok(lookups <= ranges.length * 12 * 31 * 7 * 2, `${lookups} membership tests for ${ranges.length} ranges`);
    const manifest = { name: 'v', presets: Array.from({ length: 100 }, (_, p) => ({ name: `p${p}`, prebuilds: { instances: 1, scheduling: { timezone: 'Europe/Berlin', schedule: slowSchedules() } } })) };
    assert.equal(validateManifest(manifest).ok, true);
  });

  test('the bit sets find the one shared slot of otherwise disjoint ranges', () => {
    assert.deepEqual(validateSchedules(slowSchedules().map((s) => s.cron)), []);
    // Feb 29 on a Sunday: dom OR dow semantics, and the month's last valid day.
    assert.equal(validateSchedules(['* 3 29 2 *', '* 3 * 2 0']).length, 1);
    assert.deepEqual(validateSchedules(['* 3 30 2 *', '* 3 * 2 0']), [], 'February 30 never exists (the first selects nothing)');
  });
});

describe('memos keyed by user text stay bounded (issue 21, finding 5)', () => {
  test('refused zone names, crons and schedule lists are not stored, however many and however long', () => {
    const before = scheduleCacheSizes();
    for (let i = 0; i < 500; i++) {
      const junk = `Not/A_Zone_${i}_${'x'.repeat(2_000)}`;
      assert.equal(isValidTimezone(junk), false);
      assert.equal(isValidTimezone(`Nowhere/${i}`), false);
      assert.notEqual(describeScheduleProblem({ instances: 1, timezone: 'UTC', schedules: [{ cron: `* 99 * * * ${i}`, instances: 1 }] }), null);
      assert.notEqual(describeScheduleProblem({ instances: 1, timezone: `Bad/${i}`, schedules: [{ cron: '* 1 * * *', instances: 1 }] }), null);
      assert.equal(validateSchedules([`* 1 ${'1,'.repeat(200)}${i % 28 + 1} * *`]).length, 1);
    }
    assert.deepEqual(scheduleCacheSizes(), before);
  });

  test('accepted inputs are bounded in entries', () => {
    for (let i = 0; i < 3_000; i++) describeScheduleProblem({ instances: 1, timezone: 'UTC', schedules: [{ cron: `* ${i % 24} ${(i % 28) + 1} * *`, instances: i }] });
    const sizes = scheduleCacheSizes();
    assert.ok(sizes.usableSchedules <= 2_000, `usable schedule memo holds ${sizes.usableSchedules}`);
    assert.ok(sizes.crons <= 2_000, `cron memo holds ${sizes.crons}`);
    assert.ok(sizes.zones <= 1_000);
  });
});

describe('validation answers stay small (issue 21, finding 6)', () => {
  test('a 0.8 MB manifest with long option lists and thousands of problems gets a bounded answer', () => {
    const options = Array.from({ length: 8_000 }, (_, i) => `option-${i}-${'o'.repeat(20)}`);
    const presets = Array.from({ length: 100 }, (_, p) => ({ name: `p${p}`, parameters: { size: `bad-${p}-${'v'.repeat(4_000)}` }, ...(p < 10 ? { [`unknown_${'k'.repeat(300)}`]: 1 } : {}) }));
    const manifest = { name: 'v', parameters: [{ name: 'size', options, default: 'not-an-option' }], presets };
    const bytes = JSON.stringify(manifest).length;
    assert.ok(bytes > 600_000, `the manifest is ${bytes} bytes`);
    const result = validateManifest(manifest);
    assert.equal(result.ok, false);
    if (result.ok) return;
    const answer = JSON.stringify(result.errors).length;
    // Was 88× the request: every message repeated the whole options list.
    assert.ok(answer < 32_000, `the problems take ${answer} bytes`);
    assert.equal(result.errors.length, MAX_REPORTED_PROBLEMS + 1);
    assert.deepEqual(result.errors.at(-1), { path: '(root)', message: `and ${111 - MAX_REPORTED_PROBLEMS} more problems not listed` });
    const first = result.errors.find((e) => e.path === 'parameters[0].default');
    assert.match(first?.message ?? '', /^"not-an-option" is not one of the options: option-0-o+, .* … \(7990 more\)$/);
    const value = result.errors.find((e) => e.path === 'presets[0].parameters.size');
    assert.match(value?.message ?? '', /^"bad-0-v+…" is not one of the options/);
    assert.ok(result.errors.every((e) => e.path.length + e.message.length < 1_000), 'each problem is short');
  });
});
