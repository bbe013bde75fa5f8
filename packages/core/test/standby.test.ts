import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planStandby, STANDBY_RETRY_MS, validateManifest, type StandbyInput, type StandbyPrebuild } from '@warmpool/core';

const now = new Date('2026-12-07T10:00:00Z');
const at = (s: number) => new Date(now.getTime() + s * 1000);
const prebuild = (id: string, ageS: number, over: Partial<StandbyPrebuild> = {}): StandbyPrebuild => ({
  id,
  createdAt: at(-ageS),
  want: null,
  frozen: false,
  requestedAt: null,
  ...over,
});
const input = (over: Partial<StandbyInput>): StandbyInput => ({ standby: { hot: 1 }, desired: 4, capable: true, prebuilds: [], now, ...over });

const manifest = (prebuilds: Record<string, unknown>) => ({ name: 'v1', presets: [{ name: 'p', prebuilds }] });
const errors = (prebuilds: Record<string, unknown>) => {
  const result = validateManifest(manifest(prebuilds));
  return result.ok ? [] : result.errors;
};

describe('prebuilds.standby in the manifest', () => {
  test('a hot count up to the largest declared pool is accepted', () => {
    assert.equal(validateManifest(manifest({ instances: 4, standby: { hot: 1 } })).ok, true);
    assert.equal(validateManifest(manifest({ instances: 4, standby: { hot: 0 } })).ok, true);
    // A schedule's larger pool counts: hot 5 of 5 during the day, clamped to the desired count at night.
    const scheduled = { instances: 1, standby: { hot: 5 }, scheduling: { timezone: 'UTC', schedule: [{ cron: '* 9-18 * * *', instances: 5 }] } };
    assert.equal(validateManifest(manifest(scheduled)).ok, true);
  });

  test('bad hot counts are refused with the field path', () => {
    assert.deepEqual(errors({ instances: 4, standby: { hot: 5 } }), [
      { path: 'presets[0].prebuilds.standby.hot', message: 'must be ≤ the largest pool the preset declares (4); the rest of the pool is frozen' },
    ]);
    assert.deepEqual(errors({ instances: 4, standby: { hot: -1 } }), [{ path: 'presets[0].prebuilds.standby.hot', message: 'must be ≥ 0' }]);
    assert.deepEqual(errors({ instances: 4, standby: { hot: 1.5 } }), [{ path: 'presets[0].prebuilds.standby.hot', message: 'must be an integer ≥ 0' }]);
    assert.deepEqual(errors({ instances: 4, standby: {} }), [{ path: 'presets[0].prebuilds.standby.hot', message: 'is required' }]);
    assert.match(errors({ instances: 4, standby: { hot: 'auto' } })[0]!.message, /"auto" is not supported yet/);
    assert.deepEqual(errors({ instances: 4, standby: { hot: 1, frozen: 3 } }), [{ path: 'presets[0].prebuilds.standby.frozen', message: 'unknown field "frozen"' }]);
    assert.deepEqual(errors({ instances: 4, standby: 3 }), [{ path: 'presets[0].prebuilds.standby', message: 'must be an object' }]);
  });

  test('an autoscaling max is the largest pool of an autoscaled preset', () => {
    assert.equal(validateManifest(manifest({ instances: 0, standby: { hot: 3 }, autoscaling: { target_hit_rate: 0.9, max: 8 } })).ok, true);
    assert.equal(errors({ instances: 0, standby: { hot: 9 }, autoscaling: { target_hit_rate: 0.9, max: 8 } })[0]?.path, 'presets[0].prebuilds.standby.hot');
  });
});

describe('planStandby', () => {
  test('1 hot of 4: the three newest are frozen, the oldest stays hot', () => {
    const plan = planStandby(input({ prebuilds: [prebuild('a', 40), prebuild('b', 30), prebuild('c', 20), prebuild('d', 10)] }));
    assert.deepEqual(plan.requests, [
      { id: 'b', action: 'freeze' },
      { id: 'c', action: 'freeze' },
      { id: 'd', action: 'freeze' },
    ]);
    assert.deepEqual([plan.hot, plan.frozen, plan.degraded], [1, 3, null]);
    assert.deepEqual(plan.recheckAt, at(STANDBY_RETRY_MS / 1000));
  });

  test('a claimed hot prebuild is refilled by thawing the oldest frozen one', () => {
    const frozen = (id: string, age: number) => prebuild(id, age, { want: 'frozen', frozen: true, requestedAt: at(-5) });
    const plan = planStandby(input({ prebuilds: [frozen('b', 30), frozen('c', 20), frozen('d', 10)] }));
    assert.deepEqual(plan.requests, [{ id: 'b', action: 'thaw' }]);
    assert.deepEqual([plan.hot, plan.frozen], [1, 2]);
  });

  test('the hot tier is never more than the desired count', () => {
    const plan = planStandby(input({ standby: { hot: 3 }, desired: 1, prebuilds: [prebuild('a', 20), prebuild('b', 10)] }));
    assert.deepEqual(plan.requests, [{ id: 'b', action: 'freeze' }]);
  });

  test('a request in flight is not repeated until STANDBY_RETRY_MS passed', () => {
    const asked = (s: number) => [prebuild('a', 20), prebuild('b', 10, { want: 'frozen', frozen: false, requestedAt: at(-s) })];
    assert.deepEqual(planStandby(input({ prebuilds: asked(1) })).requests, []);
    assert.deepEqual(planStandby(input({ prebuilds: asked(1) })).recheckAt, at(-1 + STANDBY_RETRY_MS / 1000), 'looked at again when due');
    assert.deepEqual(planStandby(input({ prebuilds: asked(STANDBY_RETRY_MS / 1000) })).requests, [{ id: 'b', action: 'freeze' }]);
  });

  test('without the capability nothing is asked and the plan says why', () => {
    const plan = planStandby(input({ capable: false, prebuilds: [prebuild('a', 20), prebuild('b', 10)] }));
    assert.deepEqual(plan.requests, []);
    assert.match(plan.degraded ?? '', /freeze capability/);
    assert.deepEqual([plan.hot, plan.frozen], [2, 0]);
  });

  test('tiers removed from the manifest: frozen prebuilds are thawed', () => {
    const plan = planStandby(input({ standby: null, prebuilds: [prebuild('a', 20, { want: 'frozen', frozen: true }), prebuild('b', 10)] }));
    assert.deepEqual(plan.requests, [{ id: 'a', action: 'thaw' }]);
    assert.deepEqual([plan.hot, plan.frozen], [2, 0]);
  });

  // Property: whatever the pool looks like, carrying out the requests (and the provisioner confirming them) gives
  // exactly min(hot, desired, eligible) hot prebuilds, and planning again asks for nothing.
  test('property: the requests converge in one step to min(hot, desired) hot, the rest frozen', () => {
    const arbPrebuild = fc.record({
      age: fc.integer({ min: 0, max: 1000 }),
      want: fc.constantFrom<StandbyPrebuild['want']>(null, 'hot', 'frozen'),
      frozen: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(arbPrebuild, { maxLength: 12 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 12 }), (raw, hot, desired) => {
        const prebuilds = raw.map((r, i) => prebuild(`p${String(i).padStart(2, '0')}`, r.age, { want: r.want, frozen: r.frozen, requestedAt: at(-1) }));
        const plan = planStandby(input({ standby: { hot }, desired, prebuilds }));
        const ids = plan.requests.map((r) => r.id);
        assert.equal(new Set(ids).size, ids.length, 'one request per prebuild at most');
        const done = prebuilds.map((p) => {
          const action = plan.requests.find((r) => r.id === p.id)?.action;
          const want = action === 'freeze' ? 'frozen' : action === 'thaw' ? 'hot' : (p.want ?? (p.frozen ? 'frozen' : 'hot'));
          return { ...p, want, frozen: want === 'frozen', requestedAt: now } as StandbyPrebuild;
        });
        const hotAfter = done.filter((p) => p.want === 'hot');
        assert.equal(hotAfter.length, Math.min(hot, desired, prebuilds.length), 'hot count');
        assert.equal(plan.hot, hotAfter.length);
        assert.equal(plan.frozen, prebuilds.length - hotAfter.length);
        const again = planStandby(input({ standby: { hot }, desired, prebuilds: done, now: at(3600) }));
        assert.deepEqual(again.requests, [], 'a converged pool needs nothing');
        assert.equal(again.recheckAt, null, 'and waits for nothing');
      }),
    );
  });

  test('property: without the capability no request, ever', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 8 }), fc.option(fc.integer({ min: 0, max: 8 })), (frozen, hot) => {
        const prebuilds = frozen.map((f, i) => prebuild(`p${i}`, i, { frozen: f, want: f ? 'frozen' : null }));
        assert.deepEqual(planStandby(input({ capable: false, standby: hot === null ? null : { hot }, prebuilds })).requests, []);
      }),
    );
  });
});
