import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AUTOSCALED_RECHECK_MS,
  AUTOSCALING_CAP,
  checkAutoscaling,
  compileExpression,
  ExpressionError,
  forecastTarget,
  indexHistory,
  nextWakeAt,
  planPreset,
  poissonQuantile,
  poolForRate,
  replay,
  seasonalRate,
  sizeTarget,
  validateManifest,
  type DemandBucket,
  type DemandHistory,
  type ForecastPolicy,
  type PresetSnapshot,
  type SizingInput,
} from '@warmpool/core';

const HOUR = 3_600_000;
const WEEK = 168 * HOUR;
const NOW = new Date('2026-03-02T10:30:00Z'); // a Monday
const forecast = (over: Partial<ForecastPolicy> = {}): ForecastPolicy => ({
  kind: 'forecast',
  targetHitRate: 0.95,
  min: 0,
  max: 50,
  leadTimeSeconds: 600,
  stabilizationSeconds: 300,
  ...over,
});

/** `weeks` weeks of hourly buckets ending at NOW's hour, each with `count(hourIndex)` requests. */
function history(weeks: number, count: (i: number) => number) {
  const end = Math.floor(NOW.getTime() / HOUR) * HOUR;
  const hourly: DemandBucket[] = [];
  for (let i = 0; i < weeks * 168; i++) hourly.push({ start: new Date(end - (i + 1) * HOUR), requests: count(i) });
  return { hourly, observedSince: new Date(end - weeks * WEEK) };
}

const base = (over: Partial<SizingInput> = {}): SizingInput => ({
  policy: null,
  scheduled: 3,
  now: NOW,
  timezone: 'Europe/Berlin',
  pool: { running: 2, eligible: 2, starting: 0, stopping: 0, deleting: 0, expired: 0 },
  recent: [],
  history: indexHistory({ hourly: [], observedSince: null }),
  measuredLeadTimeSeconds: null,
  ...over,
});

/** P(X ≤ n) for X ~ Poisson(mean), summed directly (small means only): the oracle of the quantile. */
function poissonCdf(mean: number, n: number): number {
  let p = Math.exp(-mean);
  let sum = p;
  for (let k = 1; k <= n; k++) {
    p *= mean / k;
    sum += p;
  }
  return sum;
}

describe('poissonQuantile', () => {
  test('is the smallest n whose CDF reaches q (oracle: direct summation)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 40, noNaN: true }), fc.double({ min: 0.5, max: 0.999, noNaN: true }), (mean, q) => {
        const n = poissonQuantile(mean, q, 1000);
        assert.ok(poissonCdf(mean, n) >= q - 1e-12);
        if (n > 0) assert.ok(poissonCdf(mean, n - 1) < q + 1e-12);
      }),
    );
  });
  test('is monotone in the mean and never above the limit', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 500, noNaN: true }), fc.double({ min: 0, max: 500, noNaN: true }), fc.integer({ min: 0, max: 300 }), (a, b, limit) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        assert.ok(poissonQuantile(lo, 0.95, limit) <= poissonQuantile(hi, 0.95, limit));
        assert.ok(poissonQuantile(hi, 0.95, limit) <= limit);
      }),
    );
  });
  test('known values: mean 2.5 at 0.95 is 5; no demand needs nothing; large means do not underflow', () => {
    assert.equal(poissonQuantile(2.5, 0.95, 100), 5);
    assert.equal(poissonQuantile(0, 0.95, 100), 0);
    const n = poissonQuantile(1000, 0.95, 5000);
    assert.ok(n > 1040 && n < 1060, `${n}`);
  });
});

describe('forecast policy', () => {
  const input = (h: DemandHistory, over: Partial<Parameters<typeof forecastTarget>[1]> = {}) => ({
    history: indexHistory(h),
    now: NOW,
    scheduled: 4,
    leadTimeSeconds: 600,
    cap: AUTOSCALING_CAP,
    ...over,
  });

  test('equals the schedule without history or with less than a week of it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 167 }), (scheduled, hours) => {
        const none = forecastTarget(forecast(), input({ hourly: [], observedSince: null }, { scheduled }));
        assert.deepEqual(none, { target: scheduled, rate: null, coldStart: true });
        const short = { hourly: [{ start: new Date(NOW.getTime() - HOUR), requests: 50 }], observedSince: new Date(NOW.getTime() - hours * HOUR) };
        assert.equal(forecastTarget(forecast(), input(short, { scheduled })).target, scheduled);
        const sized = sizeTarget(base({ policy: forecast(), scheduled, history: indexHistory(short) }));
        assert.deepEqual(sized, { target: scheduled, source: 'scheduled', forecastRate: null, error: null });
      }),
    );
  });

  test('is monotone in the rate: a higher expected rate never gets a smaller pool, never above the bound', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 2000, noNaN: true }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        fc.double({ min: 0.5, max: 0.999, noNaN: true }),
        fc.integer({ min: 1, max: 7200 }),
        fc.integer({ min: 0, max: 100 }),
        (a, b, q, lead, upper) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const policy = { targetHitRate: q, min: 0 };
          assert.ok(poolForRate(policy, lo, lead, upper) <= poolForRate(policy, hi, lead, upper));
          assert.ok(poolForRate(policy, hi, lead, upper) <= upper);
        },
      ),
    );
  });

  test('is monotone in demand: the same history scaled up never lowers the target', () => {
    const counts = fc.array(fc.nat(30), { minLength: 2 * 168, maxLength: 2 * 168 });
    fc.assert(
      fc.property(counts, fc.integer({ min: 2, max: 5 }), fc.double({ min: 0.5, max: 0.999, noNaN: true }), fc.integer({ min: 60, max: 7200 }), (a, k, rate, lead) => {
        const policy = forecast({ targetHitRate: rate });
        const low = forecastTarget(policy, input(history(2, (i) => a[i]!), { leadTimeSeconds: lead }));
        const high = forecastTarget(policy, input(history(2, (i) => a[i]! * k), { leadTimeSeconds: lead }));
        assert.ok(low.target <= high.target, `${low.target} > ${high.target}`);
      }),
      { numRuns: 60 },
    );
  });

  test('is never above max or the cap, never below min', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 120 }),
        fc.nat(500),
        fc.integer({ min: 0, max: 100 }),
        (x, y, cap, level, scheduled) => {
          const [min, max] = x <= y ? [x, y] : [y, x];
          const result = forecastTarget(forecast({ min, max }), input(history(3, () => level), { cap, scheduled }));
          assert.ok(result.target <= Math.min(max, cap));
          assert.ok(result.target >= Math.min(min, cap));
        },
      ),
      { numRuns: 100 },
    );
  });

  test('sizes the busiest hour within the lead time with the Poisson quantile', () => {
    const h = history(2, () => 12); // 12 requests per hour everywhere
    assert.ok(Math.abs(seasonalRate(indexHistory(h), NOW, NOW)! - 12) < 1e-9);
    // 10 minutes of lead at 12/h: mean 2 → 95 % quantile 5, plus the one a request itself needs
    const result = forecastTarget(forecast(), input(h));
    assert.deepEqual({ ...result, rate: Math.round(result.rate!) }, { target: 6, rate: 12, coldStart: false });
  });

  test('weights recent weeks more (half-life two weeks)', () => {
    // week 1 ago: 10/h, weeks 2–4 ago: 0/h → (1·10) / (1 + 0.707 + 0.5 + 0.354)
    const h = history(4, (i) => (i < 168 ? 10 : 0));
    const rate = seasonalRate(indexHistory(h), NOW, NOW)!;
    assert.ok(Math.abs(rate - 10 / (1 + 0.5 ** 0.5 + 0.5 + 0.5 ** 1.5)) < 1e-9);
  });

  test('scales up at once and down only after the stabilization window', () => {
    // Demand 60/h in the hour starting 10:00 UTC each day (today's included), nothing else.
    const past = history(2, (i) => (new Date(Math.floor(NOW.getTime() / HOUR) * HOUR - (i + 1) * HOUR).getUTCHours() === 10 ? 60 : 0));
    const h = { ...past, hourly: [...past.hourly, { start: new Date(Math.floor(NOW.getTime() / HOUR) * HOUR), requests: 60 }] };
    const at = (iso: string) => forecastTarget(forecast(), input(h, { now: new Date(iso) })).target;
    assert.equal(at('2026-03-02T06:30:00Z'), 0, 'no demand around: nothing warm');
    assert.equal(at('2026-03-02T09:30:00Z'), 2, 'next to a busy hour, the sparse floor (1/h): quantile 1 plus one');
    const busy = at('2026-03-02T10:30:00Z');
    assert.ok(busy >= 10);
    assert.equal(at('2026-03-02T09:55:00Z'), busy, 'the lead time looks ahead: the pool is full before 10:00');
    assert.equal(at('2026-03-02T11:03:00Z'), busy, 'within 5 minutes after the drop the target holds');
    assert.equal(at('2026-03-02T11:06:00Z'), 2, 'after the window it drops to the sparse floor');
  });
});

describe('expression policy', () => {
  test('refuses unknown variables, other functions, member access, strings and lists at compile time', () => {
    for (const source of ['foo + 1', 'sin(eligible)', 'random()', 'PI', 'toString', 'constructor', 'a.b', '"x"', '[1, 2]', 'x = 1', '1 +']) {
      assert.throws(() => compileExpression(source), ExpressionError, source);
    }
  });
  test("evaluates Coder's inputs and helpers", () => {
    const recent = [
      { at: new Date(NOW.getTime() - 2 * 60_000), hit: true },
      { at: new Date(NOW.getTime() - 20 * 60_000), hit: false },
      { at: new Date(NOW.getTime() - 50 * 60_000), hit: true },
      { at: new Date(NOW.getTime() - 119 * 60_000), hit: true },
    ];
    const run = (expression: string, over: Partial<SizingInput> = {}) =>
      sizeTarget(base({ policy: { kind: 'expression', expression, min: 0, max: 100 }, recent, ...over }));
    assert.equal(run('max(scheduled_target, claims_60m)').target, 3);
    assert.equal(run('claims_120m + misses_30m').target, 4);
    assert.equal(run('claims_5m').target, 1);
    assert.equal(run('claim_rate_60m').target, 3); // 3 requests in 60 minutes = 3 per hour
    assert.equal(run('hour').target, 11); // 10:30 UTC is 11:30 in Berlin
    assert.equal(run('weekday').target, 1);
    assert.equal(run('clamp(eligible * 10, 1, 7)').target, 7);
    assert.equal(run('ceil(claims_60m / 4) + floor(1.9)').target, 2);
    assert.equal(run('hour >= 9 and hour < 17 ? 5 : 1').target, 5);
    assert.deepEqual(run('claims_60m * 1000'), { target: 100, source: 'expression', forecastRate: null, error: null });
    assert.equal(run('0 - 5').target, 0);
  });
  test('never above max, never below min', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (value, x, y) => {
        const [min, max] = x <= y ? [x, y] : [y, x];
        const { target } = sizeTarget(base({ policy: { kind: 'expression', expression: `${value} * 1`, min, max } }));
        assert.ok(target >= min && target <= max);
      }),
    );
  });
  test('a run-time error falls back to the schedule with the reason', () => {
    const result = sizeTarget(base({ policy: { kind: 'expression', expression: 'claims_60m / misses_60m', min: 0, max: 100 } }));
    assert.equal(result.source, 'expression_fallback');
    assert.equal(result.target, 3);
    assert.match(result.error!, /not a finite number/);
  });
});

describe('manifest: prebuilds.autoscaling', () => {
  const manifest = (autoscaling: unknown) => ({ name: 'v1', presets: [{ name: 'a', prebuilds: { instances: 1, autoscaling } }] });
  const errors = (autoscaling: unknown) => {
    const result = validateManifest(manifest(autoscaling));
    return result.ok ? [] : result.errors;
  };
  test('accepts an expression or a forecast policy', () => {
    assert.equal(validateManifest(manifest({ expression: 'max(scheduled_target, claims_60m)' })).ok, true);
    assert.equal(validateManifest(manifest({ target_hit_rate: 0.95, min: 1, max: 20, lead_time: 240, stabilization_window: 600 })).ok, true);
  });
  test('refuses bad policies with the field path', () => {
    const p = 'presets[0].prebuilds.autoscaling';
    assert.deepEqual(errors({ expression: 'claims_60m + nope' }).map((e) => e.path), [`${p}.expression`]);
    assert.match(errors({ expression: 'claims_60m + nope' })[0]!.message, /unknown variable or function "nope"/);
    assert.deepEqual(errors({ expression: 'max(' }).map((e) => e.path), [`${p}.expression`]);
    assert.deepEqual(errors({}).map((e) => e.path), [p]);
    assert.deepEqual(errors({ expression: 'eligible', target_hit_rate: 0.9 }).map((e) => e.path), [p]);
    assert.deepEqual(errors({ target_hit_rate: 1 }).map((e) => e.path), [`${p}.target_hit_rate`]);
    assert.deepEqual(errors({ target_hit_rate: 0.9, max: 101 }).map((e) => e.path), [`${p}.max`]);
    assert.deepEqual(errors({ target_hit_rate: 0.9, min: 5, max: 2 }).map((e) => e.path), [`${p}.min`]);
    assert.deepEqual(errors({ expression: 'eligible', lead_time: 60 }).map((e) => e.path), [`${p}.lead_time`]);
    assert.deepEqual(errors({ target_hit_rate: 0.9, extra: 1 }).map((e) => e.path), [`${p}.extra`]);
    assert.deepEqual(errors('fast').map((e) => e.path), [p]);
  });
  test('checkAutoscaling fills the defaults', () => {
    assert.deepEqual(checkAutoscaling({ target_hit_rate: 0.9 }).policy, {
      kind: 'forecast',
      targetHitRate: 0.9,
      min: 0,
      max: AUTOSCALING_CAP,
      leadTimeSeconds: null,
      stabilizationSeconds: 300,
    });
  });
});

describe('replay', () => {
  const schedule = { instances: 2, timezone: 'UTC', schedules: [] };
  const from = new Date('2026-03-02T00:00:00Z');
  const to = new Date('2026-03-02T06:00:00Z');
  test('without requests: every hour costs the static pool, no hit rate', () => {
    const result = replay({ policy: null, schedule, requests: [], from, to, leadTimeSeconds: 300 });
    assert.equal(result.hours.length, 6);
    for (const h of result.hours) assert.deepEqual({ desired: h.desired, hitRate: h.hitRate, cost: Math.round(h.prebuildHours * 1000) / 1000 }, { desired: 2, hitRate: null, cost: 2 });
    assert.equal(result.totals.hitRate, null);
    assert.deepEqual(result.sources, { scheduled: 361 });
  });
  test('claims drain the pool and refill after the lead time', () => {
    // three requests in one minute against a pool of 2: two hits, one miss; the refill is ready 5 minutes later
    const at = (min: number) => new Date(from.getTime() + min * 60_000);
    const requests = [at(10), at(10.2), at(10.4), at(16)];
    const result = replay({ policy: null, schedule, requests, from, to, leadTimeSeconds: 300 });
    assert.deepEqual(result.totals.hits, 3);
    assert.deepEqual(result.totals.misses, 1);
    assert.equal(result.hours[0]!.hitRate, 0.75);
  });
  test('an expression that follows claims keeps more warm after a burst', () => {
    const at = (min: number) => new Date(from.getTime() + min * 60_000);
    const requests = Array.from({ length: 20 }, (_, i) => at(60 + i * 3));
    const fixed = replay({ policy: null, schedule, requests, from, to, leadTimeSeconds: 300 });
    const follow = replay({ policy: { kind: 'expression', expression: 'max(scheduled_target, claims_30m)', min: 0, max: 100 }, schedule, requests, from, to, leadTimeSeconds: 300 });
    assert.ok(follow.totals.hits >= fixed.totals.hits);
    assert.ok(follow.totals.prebuildHours > fixed.totals.prebuildHours);
    assert.ok((follow.sources.expression ?? 0) > 0);
  });
  test('a forecast replay never wants more than max', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 14 * 24 * 60 }), { maxLength: 400 }), fc.integer({ min: 0, max: 10 }), (minutes, max) => {
        const start = new Date('2026-02-16T00:00:00Z').getTime();
        const requests = [...minutes].sort((a, b) => a - b).map((m) => new Date(start + m * 60_000));
        const result = replay({
          policy: forecast({ max }),
          schedule: { instances: 0, timezone: 'UTC', schedules: [] },
          requests,
          from: new Date(start + 8 * 24 * HOUR),
          to: new Date(start + 9 * 24 * HOUR),
          leadTimeSeconds: 300,
          stepMs: 300_000,
        });
        for (const h of result.hours) assert.ok(h.desired <= max);
      }),
      { numRuns: 20 },
    );
  });
});

describe('planPreset with an autoscaled target', () => {
  const snapshot = (target?: number): PresetSnapshot => ({
    preset: { id: 'p', instances: 2, usingActiveVersion: true, templateDeleted: false, templateDeprecated: false, ttlSeconds: null, timezone: '', schedules: [] },
    running: [{ id: 'a', createdAt: new Date(NOW.getTime() - HOUR), ready: true }],
    inProgress: [],
    backoff: null,
    hardLimited: false,
    ...(target === undefined ? {} : { target }),
  });
  test('the target replaces the schedule as the desired count', () => {
    assert.deepEqual(planPreset(snapshot(5), { now: NOW, backoffIntervalMs: 60_000 }).actions, [{ type: 'create', count: 4 }]);
    assert.deepEqual(planPreset(snapshot(0), { now: NOW, backoffIntervalMs: 60_000 }).actions, [{ type: 'delete', ids: ['a'], reason: 'extraneous' }]);
    assert.deepEqual(planPreset(snapshot(), { now: NOW, backoffIntervalMs: 60_000 }).actions, [{ type: 'create', count: 1 }]);
  });
  test('an autoscaled preset is looked at again within a minute', () => {
    assert.deepEqual(nextWakeAt(snapshot(1), { now: NOW, backoffIntervalMs: 60_000 }), new Date(NOW.getTime() + AUTOSCALED_RECHECK_MS));
    assert.equal(nextWakeAt(snapshot(), { now: NOW, backoffIntervalMs: 60_000 }), null);
  });
});
