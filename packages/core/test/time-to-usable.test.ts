import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  chooseHistory,
  decideClaim,
  HISTORY_LIMIT,
  predictColdMs,
  predictRemainingMs,
  probabilityUsableWithin,
  remainingTimes,
  retryAfterSeconds,
  type DurationSample,
} from '../src/index.js';

const sample = (totalMs: number, queuedMs = 0): DurationSample => ({ totalMs, queuedMs });
const fiveSeconds = Array.from({ length: 20 }, (_, i) => sample(4_800 + i * 20, 100));
const sampleArb = fc.record({ totalMs: fc.integer({ min: 1, max: 600_000 }), queuedMs: fc.integer({ min: 0, max: 60_000 }) });
const none = { preset: [], version: [], template: [] };

describe('time-to-usable predictor', () => {
  test('remaining time is conditional on the elapsed time: a 5 s build 2 s in has about 3 s left', () => {
    const remaining = predictRemainingMs(fiveSeconds, 2_000)!;
    assert.ok(remaining > 2_700 && remaining < 3_300, String(remaining));
    assert.equal(probabilityUsableWithin(fiveSeconds, 2_000, 4_000), 1);
    assert.equal(probabilityUsableWithin(fiveSeconds, 2_000, 300), 0);
  });

  test('a build that outlived every sample is overdue: no prediction, not reservable', () => {
    assert.equal(predictRemainingMs(fiveSeconds, 10_000), null);
    assert.equal(probabilityUsableWithin(fiveSeconds, 10_000, 100_000), null);
    const decision = decideClaim({ mode: 'prefer', budgetMs: 100_000, history: chooseHistory({ ...none, preset: fiveSeconds }), inflight: [{ workspaceId: 'a', elapsedMs: 10_000 }], humanBuildsAhead: 0, slots: 4 });
    assert.equal(decision.kind, 'cold');
  });

  test('property: P(usable within budget) never falls as the budget grows', () => {
    fc.assert(
      fc.property(fc.array(sampleArb, { minLength: 1, maxLength: 150 }), fc.nat(600_000), fc.nat(120_000), fc.nat(120_000), (samples, elapsed, a, b) => {
        const [small, large] = a <= b ? [a, b] : [b, a];
        const p1 = probabilityUsableWithin(samples, elapsed, small);
        const p2 = probabilityUsableWithin(samples, elapsed, large);
        assert.equal(p1 === null, p2 === null);
        if (p1 !== null && p2 !== null) {
          assert.ok(p1 <= p2, `${p1} > ${p2}`);
          assert.ok(p1 >= 0 && p2 <= 1);
        }
      }),
    );
  });

  test('property: remaining times are positive, sorted, and never more than the samples', () => {
    fc.assert(
      fc.property(fc.array(sampleArb, { maxLength: 150 }), fc.nat(600_000), (samples, elapsed) => {
        const r = remainingTimes(samples, elapsed);
        assert.ok(r.length <= samples.length);
        assert.ok(r.every((x, i) => x > 0 && (i === 0 || r[i - 1]! <= x)));
      }),
    );
  });

  test('falls back from preset to version to template, and says when there is no history', () => {
    assert.deepEqual(chooseHistory(none), { level: 'none', samples: [] });
    assert.equal(chooseHistory({ ...none, template: [sample(1)] }).level, 'template');
    assert.equal(chooseHistory({ preset: [sample(1)], version: [sample(1), sample(2), sample(3)], template: [] }).level, 'version');
    assert.equal(chooseHistory({ preset: [sample(1), sample(2), sample(3)], version: [], template: [] }).level, 'preset');
    // Too few everywhere: the widest non-empty level.
    assert.equal(chooseHistory({ preset: [sample(1)], version: [sample(1), sample(2)], template: [] }).level, 'version');
    const noHistory = decideClaim({ mode: 'prefer', budgetMs: 60_000, history: chooseHistory(none), inflight: [{ workspaceId: 'a', elapsedMs: 1 }], humanBuildsAhead: 0, slots: 4 });
    assert.deepEqual(noHistory, { kind: 'cold', predictedMs: null, level: 'none', reason: 'no-history' });
  });

  test('property: bounded memory, whatever a caller passes in', () => {
    fc.assert(
      fc.property(fc.array(sampleArb, { maxLength: 400 }), fc.array(sampleArb, { maxLength: 400 }), fc.array(sampleArb, { maxLength: 400 }), (preset, version, template) => {
        const chosen = chooseHistory({ preset, version, template });
        assert.ok(chosen.samples.length <= HISTORY_LIMIT);
      }),
    );
  });

  test('cold builds wait only behind human builds, one service time per batch of provisioner slots', () => {
    assert.equal(predictColdMs([], 0, 4), null);
    const service = predictColdMs([sample(5_000, 1_000)], 0, 4);
    assert.equal(service, 4_000, 'the queue wait of a prebuild create is not a cold build’s');
    assert.equal(predictColdMs([sample(5_000, 1_000)], 4, 4), 8_000);
    assert.equal(predictColdMs([sample(5_000, 1_000)], 5, 4), 12_000);
  });
});

describe('claim decision', () => {
  const history = chooseHistory({ ...none, preset: fiveSeconds });
  const base = { history, humanBuildsAhead: 0, slots: 4 } as const;

  test('prefer with 4 s reserves the build 2 s into 5 s; with 0.3 s it builds cold', () => {
    const reserve = decideClaim({ ...base, mode: 'prefer', budgetMs: 4_000, inflight: [{ workspaceId: 'late', elapsedMs: 100 }, { workspaceId: 'early', elapsedMs: 2_000 }] });
    assert.equal(reserve.kind, 'reserve');
    assert.deepEqual(reserve.kind === 'reserve' && reserve.candidates.map((c) => c.workspaceId), ['early']);
    const cold = decideClaim({ ...base, mode: 'prefer', budgetMs: 300, inflight: [{ workspaceId: 'early', elapsedMs: 2_000 }] });
    assert.equal(cold.kind, 'cold');
  });

  test('require with nothing in budget: unavailable, retry after the soonest prediction', () => {
    const d = decideClaim({ ...base, mode: 'require', budgetMs: 300, inflight: [{ workspaceId: 'early', elapsedMs: 2_000 }] });
    assert.equal(d.kind, 'unavailable');
    assert.equal(d.kind === 'unavailable' && retryAfterSeconds(d.retryAfterMs), 3);
    const empty = decideClaim({ ...base, mode: 'require', budgetMs: 300, inflight: [] });
    assert.equal(empty.kind === 'unavailable' && retryAfterSeconds(empty.retryAfterMs), 5, 'a whole build when nothing is in flight');
  });

  test('never waits for a build predicted to finish after a cold one', () => {
    // Queue waits of 4 s: a cold build (human, nobody ahead) takes ~1 s of service; a prebuild 1 s in has ~4 s left.
    const queued = chooseHistory({ ...none, preset: Array.from({ length: 10 }, () => sample(5_000, 4_000)) });
    const d = decideClaim({ ...base, history: queued, mode: 'prefer', budgetMs: 60_000, inflight: [{ workspaceId: 'a', elapsedMs: 1_000 }] });
    assert.equal(d.kind, 'cold');
  });

  test('bypass is always cold', () => {
    assert.equal(decideClaim({ ...base, mode: 'bypass', budgetMs: 60_000, inflight: [{ workspaceId: 'a', elapsedMs: 4_900 }] }).kind, 'cold');
  });

  test('property: a larger budget never turns a reservation into a cold build', () => {
    fc.assert(
      fc.property(fc.array(sampleArb, { minLength: 1, maxLength: 100 }), fc.array(fc.nat(600_000), { maxLength: 5 }), fc.nat(120_000), fc.nat(120_000), (samples, elapsed, a, b) => {
        const [small, large] = a <= b ? [a, b] : [b, a];
        const h = chooseHistory({ ...none, preset: samples });
        const inflight = elapsed.map((e, i) => ({ workspaceId: `w${i}`, elapsedMs: e }));
        const d1 = decideClaim({ ...base, history: h, mode: 'prefer', budgetMs: small, inflight });
        const d2 = decideClaim({ ...base, history: h, mode: 'prefer', budgetMs: large, inflight });
        if (d1.kind === 'reserve') assert.equal(d2.kind, 'reserve');
      }),
    );
  });
});
