import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decideRollout,
  evaluatePreset,
  isActivePreset,
  isStagedPreset,
  keepsPool,
  nextWakeAt,
  parseSurge,
  resolveSurge,
  shareSurge,
  type PresetRecord,
  type StagedPresetProgress,
} from '../src/index.js';

const NOW = new Date('2026-03-02T10:30:00Z');
const SETTINGS = { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3 };
const DEADLINE = new Date(NOW.getTime() + 900_000);

type Running = PresetRecord['running'][number];

function staged(input: { id?: string; instances: number; running?: Running[]; starting?: number; surgeBuilds: number; stagedInflight: number; status?: PresetRecord['preset']['status'] }): PresetRecord {
  return {
    preset: {
      id: input.id ?? 'new', name: 'small', instances: input.instances, ttlSeconds: null, timezone: '', schedules: [], parameters: {},
      status: input.status ?? 'healthy', statusChangedAt: null, scheduleError: null, autoscaling: null, autoscalingError: null,
      templateVersionId: 'v2', versionName: 'v2', declarations: [], templateId: 't1', templateName: 'web', templateDeleted: false,
      templateDeprecated: false, usingActiveVersion: false, organizationId: 'o1', organizationName: 'acme',
    },
    paused: false,
    rollout: { id: 'r1', deadlineAt: DEADLINE, surgeBuilds: input.surgeBuilds, stagedInflight: input.stagedInflight },
    running: input.running ?? [],
    inProgress: input.starting ? [{ transition: 'start', count: input.starting }] : [],
    population: [],
  };
}

const creates = (record: PresetRecord) => evaluatePreset(record, NOW, SETTINGS).writes.reduce((n, a) => (a.type === 'create' ? n + a.count : n), 0);
const prebuild = (id: string, ready: boolean): Running => ({ id, createdAt: new Date(NOW.getTime() - 1000), ready, invalidated: false });

describe('surge', () => {
  test('a build count or a percentage of desired, rounded up, at least one', () => {
    assert.deepEqual(parseSurge('3'), { ok: true, value: { kind: 'builds', builds: 3 } });
    assert.deepEqual(parseSurge('25%'), { ok: true, value: { kind: 'percent', percent: 25 } });
    for (const bad of ['0', '1001', '0%', '101%', '-1', '2.5', '25 %', '', 'many']) assert.equal(parseSurge(bad).ok, false, bad);
    assert.equal(resolveSurge({ kind: 'percent', percent: 25 }, 15), 4);
    assert.equal(resolveSurge({ kind: 'percent', percent: 25 }, 0), 1);
    assert.equal(resolveSurge({ kind: 'builds', builds: 7 }, 2), 7);
  });
});

describe('staged presets are planned like active ones, never claimable', () => {
  test('a staged preset is not active (claims take the active version only) but keeps its pool', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), (usingActiveVersion, stagedFlag, templateDeleted, templateDeprecated) => {
        const preset = { id: 'p', instances: 1, usingActiveVersion, staged: stagedFlag, templateDeleted, templateDeprecated, ttlSeconds: null, timezone: '', schedules: [] };
        assert.ok(!(isStagedPreset(preset) && isActivePreset(preset)), 'never both staged and active');
        assert.equal(keepsPool(preset), isActivePreset(preset) || isStagedPreset(preset));
        if (templateDeleted || templateDeprecated) assert.equal(keepsPool(preset), false);
      }),
    );
  });

  test('a staged preset creates toward desired within the surge budget left', () => {
    assert.equal(creates(staged({ instances: 5, surgeBuilds: 2, stagedInflight: 0 })), 2);
    assert.equal(creates(staged({ instances: 5, surgeBuilds: 2, stagedInflight: 1 })), 1);
    assert.equal(creates(staged({ instances: 5, surgeBuilds: 2, stagedInflight: 2 })), 0);
    assert.equal(creates(staged({ instances: 1, surgeBuilds: 10, stagedInflight: 0 })), 1);
    // Not staged any more (canceled or failed): its prebuilds are deleted like an inactive version's.
    const ended = { ...staged({ instances: 2, running: [prebuild('a', true)], surgeBuilds: 2, stagedInflight: 0 }), rollout: null };
    assert.deepEqual(evaluatePreset(ended, NOW, SETTINGS).writes, [{ type: 'delete', ids: ['a'], reason: 'inactive' }]);
  });

  test('property: per preset never more than desired built or building, template-wide never more than the surge in flight', () => {
    // A template's staged presets reconciled in random order while builds finish at random: the budget is shared.
    const scenario = fc.record({
      desired: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 4 }),
      surge: fc.integer({ min: 1, max: 6 }),
      steps: fc.array(fc.record({ preset: fc.nat(), finish: fc.nat({ max: 3 }) }), { maxLength: 60 }),
    });
    fc.assert(
      fc.property(scenario, ({ desired, surge, steps }) => {
        const built = desired.map(() => 0);
        const building = desired.map(() => 0);
        for (const step of steps) {
          const i = step.preset % desired.length;
          const inflight = building.reduce((a, b) => a + b, 0);
          const running = Array.from({ length: built[i]! }, (_, k) => prebuild(`${i}-${k}`, true));
          const n = creates(staged({ id: `p${i}`, instances: desired[i]!, running, starting: building[i]!, surgeBuilds: surge, stagedInflight: inflight }));
          building[i]! += n;
          assert.ok(built[i]! + building[i]! <= desired[i]!, `preset ${i}: ${built[i]} built + ${building[i]} building > desired ${desired[i]}`);
          assert.ok(building.reduce((a, b) => a + b, 0) <= surge, 'staged builds in flight exceed the surge budget');
          // Some builds of a random preset finish.
          const j = (step.preset + step.finish) % desired.length;
          const done = Math.min(step.finish, building[j]!);
          building[j]! -= done;
          built[j]! += done;
        }
      }),
    );
  });

  test("a staged preset wakes just after its rollout's deadline", () => {
    const view = evaluatePreset(staged({ instances: 1, running: [prebuild('a', false)], surgeBuilds: 1, stagedInflight: 0 }), NOW, SETTINGS);
    assert.equal(nextWakeAt(view.snapshot, { now: NOW, backoffIntervalMs: 60_000 })?.getTime(), DEADLINE.getTime() + 1);
  });
});

describe('decideRollout (promotion)', () => {
  const p = (name: string, eligible: number, threshold: number, status: StagedPresetProgress['status'] = 'healthy'): StagedPresetProgress => ({ presetId: name, name, eligible, threshold, status });

  test('promotes when every staged preset is warm, waits before, stops at the deadline or on a broken preset', () => {
    assert.deepEqual(decideRollout({ deadlineAt: DEADLINE, presets: [p('a', 3, 3), p('b', 5, 5)] }, NOW), { kind: 'promote' });
    assert.deepEqual(decideRollout({ deadlineAt: DEADLINE, presets: [] }, NOW), { kind: 'promote' });
    assert.deepEqual(decideRollout({ deadlineAt: DEADLINE, presets: [p('a', 3, 3), p('b', 4, 5)] }, NOW), { kind: 'wait' });
    // At the deadline instant it still waits; just after, it stops naming what is cold.
    assert.deepEqual(decideRollout({ deadlineAt: DEADLINE, presets: [p('a', 4, 5)] }, DEADLINE), { kind: 'wait' });
    assert.deepEqual(decideRollout({ deadlineAt: DEADLINE, presets: [p('a', 4, 5)] }, new Date(DEADLINE.getTime() + 1)), {
      kind: 'stop', reason: 'deadline', presetId: 'a', detail: 'not warm by the deadline: "a" 4/5 eligible',
    });
    assert.equal(decideRollout({ deadlineAt: DEADLINE, presets: [p('a', 5, 5, 'hard_limited')] }, NOW).kind, 'stop');
    assert.deepEqual(decideRollout({ deadlineAt: DEADLINE, presets: [p('a', 0, 5), p('b', 0, 1, 'validation_failed')] }, NOW), {
      kind: 'stop', reason: 'validation_failed', presetId: 'b', detail: 'staged preset "b" cannot be built (validation failed)',
    });
  });

  test('property: promotes only when every staged preset is healthy and at its threshold', () => {
    const progress = fc.array(
      fc.record({ eligible: fc.nat({ max: 6 }), threshold: fc.nat({ max: 6 }), status: fc.constantFrom('healthy', 'healthy', 'hard_limited', 'validation_failed') as fc.Arbitrary<StagedPresetProgress['status']> }),
      { maxLength: 5 },
    );
    fc.assert(
      fc.property(progress, fc.integer({ min: -1000, max: 1000 }), (presets, offset) => {
        const list = presets.map((x, i) => ({ ...x, presetId: `p${i}`, name: `p${i}` }));
        const decision = decideRollout({ deadlineAt: DEADLINE, presets: list }, new Date(DEADLINE.getTime() + offset));
        const warm = list.every((x) => x.status === 'healthy' && x.eligible >= x.threshold);
        assert.equal(decision.kind === 'promote', warm);
        if (decision.kind === 'wait') assert.ok(offset <= 0, 'waits only until the deadline');
      }),
    );
  });
});

describe('shareSurge (one batch, one budget)', () => {
  test('splits each rollout’s remaining surge among its presets in order, never more in total', () => {
    assert.deepEqual(shareSurge([
      { rolloutId: 'r1', surgeRemaining: 3, count: 2 },
      { rolloutId: 'r1', surgeRemaining: 3, count: 2 },
      { rolloutId: 'r2', surgeRemaining: 1, count: 4 },
      { rolloutId: 'r1', surgeRemaining: 3, count: 1 },
    ]), [2, 1, 1, 0]);
    fc.assert(
      fc.property(fc.array(fc.record({ rolloutId: fc.constantFrom('a', 'b'), count: fc.nat({ max: 5 }) })), fc.nat({ max: 6 }), (creates, budget) => {
        const allowed = shareSurge(creates.map((c) => ({ ...c, surgeRemaining: budget })));
        for (const id of ['a', 'b']) assert.ok(allowed.filter((_, i) => creates[i]!.rolloutId === id).reduce((x, y) => x + y, 0) <= budget);
        allowed.forEach((n, i) => assert.ok(n >= 0 && n <= creates[i]!.count));
      }),
    );
  });
});
