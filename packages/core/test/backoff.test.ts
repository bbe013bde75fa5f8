import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffWindow, computeBackoff, failureLimitReached, type PopulationBuild } from '@warmpool/core';

const NOW = new Date('2026-01-05T12:00:00Z');
const LOOKBACK = 3_600_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const build = (status: PopulationBuild['status'], ageMs: number, completed = true): PopulationBuild => ({
  status,
  createdAt: ago(ageMs + 30_000),
  completedAt: completed && status !== 'pending' && status !== 'running' ? ago(ageMs) : null,
});
const compute = (population: PopulationBuild[], window: number) => computeBackoff(population, { now: NOW, lookbackMs: LOOKBACK, window });

describe('computeBackoff (§4.3)', () => {
  test('no failure: no backoff', () => {
    assert.equal(compute([], 1), null);
    assert.equal(compute([build('succeeded', 1000), build('canceled', 2000), build('running', 0), build('pending', 0)], 4), null);
  });

  test('a failure among the newest N builds inside the lookback: backoff with its time', () => {
    const result = compute([build('succeeded', 1000), build('failed', 5000)], 2);
    assert.deepEqual(result, { failures: 1, newestFailureAt: ago(5000) });
  });

  test('a failure outside the newest N builds does not start backoff', () => {
    assert.equal(compute([build('succeeded', 1000), build('failed', 5000)], 1), null);
  });

  test('failures counts every failed build in the lookback, beyond the newest N too', () => {
    const population = [build('failed', 1000), build('succeeded', 2000), build('failed', 3000), build('failed', 4000), build('failed', 2 * LOOKBACK)];
    assert.deepEqual(compute(population, 1), { failures: 3, newestFailureAt: ago(1000) });
  });

  test('lookback boundary: exactly now - lookback counts, 1 ms earlier does not', () => {
    assert.deepEqual(compute([build('failed', LOOKBACK)], 1), { failures: 1, newestFailureAt: ago(LOOKBACK) });
    assert.equal(compute([build('failed', LOOKBACK + 1)], 1), null);
  });

  test('newestFailureAt is the newest failed completion even when the population order differs', () => {
    const population = [build('failed', 9000), build('failed', 2000)];
    assert.deepEqual(compute(population, 2), { failures: 2, newestFailureAt: ago(2000) });
  });

  test('a failed build without completion time falls back to its creation time', () => {
    const failed: PopulationBuild = { status: 'failed', createdAt: ago(10_000), completedAt: null };
    assert.deepEqual(compute([failed], 1), { failures: 1, newestFailureAt: ago(10_000) });
  });

  test('window below 1 behaves as no window', () => {
    assert.equal(compute([build('failed', 1000)], 0), null);
  });

  test('property: null iff none of the newest N is a recent failure; failures counts recent failures', () => {
    const statuses = fc.constantFrom<PopulationBuild['status']>('pending', 'running', 'succeeded', 'failed', 'canceled');
    fc.assert(
      fc.property(fc.array(fc.tuple(statuses, fc.integer({ min: 0, max: 2 * LOOKBACK })), { maxLength: 12 }), fc.integer({ min: 1, max: 6 }), (rows, window) => {
        const population = rows.map(([s, age]) => build(s, age));
        const recent = (b: PopulationBuild) => b.status === 'failed' && b.completedAt!.getTime() >= NOW.getTime() - LOOKBACK;
        const result = compute(population, window);
        if (!population.slice(0, window).some(recent)) assert.equal(result, null);
        else {
          assert.equal(result!.failures, population.filter(recent).length);
          assert.equal(result!.newestFailureAt.getTime(), Math.max(...population.filter(recent).map((b) => b.completedAt!.getTime())));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('failureLimitReached (§4.3)', () => {
  const failed = build('failed', 1000);
  const ok = build('succeeded', 1000);
  test('limit 0 disables', () => {
    assert.equal(failureLimitReached([failed, failed, failed], 0), false);
  });
  test('the newest `limit` builds all failed', () => {
    assert.equal(failureLimitReached([failed, failed, failed], 3), true);
    assert.equal(failureLimitReached([failed, failed, failed, ok], 3), true);
    assert.equal(failureLimitReached([failed, ok, failed, failed], 3), false);
    assert.equal(failureLimitReached([ok, failed, failed, failed], 3), false);
  });
  test('fewer builds than the limit never reach it', () => {
    assert.equal(failureLimitReached([failed, failed], 3), false);
    assert.equal(failureLimitReached([], 1), false);
  });
  test('canceled and in-progress builds are not failures', () => {
    assert.equal(failureLimitReached([failed, build('canceled', 1), failed], 3), false);
    assert.equal(failureLimitReached([build('running', 0), failed, failed], 2), false);
  });
});

describe('backoffWindow', () => {
  const preset = { id: 'p', instances: 0, usingActiveVersion: true, templateDeleted: false, templateDeprecated: false, ttlSeconds: null, timezone: '', schedules: [] };
  test('max(desired now, base instances, 1)', () => {
    assert.equal(backoffWindow(preset, NOW), 1);
    assert.equal(backoffWindow({ ...preset, instances: 3 }, NOW), 3);
    const scheduled = { ...preset, instances: 2, timezone: 'UTC', schedules: [{ cron: '* 12 * * *', instances: 6 }] };
    assert.equal(backoffWindow(scheduled, NOW), 6);
    const quiet = { ...scheduled, schedules: [{ cron: '* 12 * * *', instances: 0 }] };
    assert.equal(backoffWindow(quiet, NOW), 2);
  });
});
