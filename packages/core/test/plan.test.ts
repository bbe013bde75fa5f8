import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { desiredInstancesAt, gateActions, nextWakeAt, planPreset, type Action, type PresetSnapshot } from '@warmpool/core';

const NOW = new Date('2026-01-05T12:00:00Z'); // a Monday
const INTERVAL = 60_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const HOUR = 3_600_000;

type Running = PresetSnapshot['running'][number];

type SnapshotOverrides = Partial<Omit<PresetSnapshot, 'preset'>> & { preset?: Partial<PresetSnapshot['preset']> };

function snapshot(overrides: SnapshotOverrides = {}): PresetSnapshot {
  return {
    running: [],
    inProgress: [],
    backoff: null,
    hardLimited: false,
    ...overrides,
    preset: {
      id: 'p1',
      instances: 2,
      usingActiveVersion: true,
      templateDeleted: false,
      templateDeprecated: false,
      ttlSeconds: null,
      timezone: '',
      schedules: [],
      ...overrides.preset,
    },
  };
}

const pb = (id: string, ageMs: number, extra: Partial<Running> = {}): Running => ({ id, createdAt: ago(ageMs), ready: true, ...extra });
const plan = (s: PresetSnapshot, now = NOW) => planPreset(s, { now, backoffIntervalMs: INTERVAL });

describe('planPreset: state (§4.1)', () => {
  test('counts actual, expired, desired, eligible, extraneous and in-progress transitions', () => {
    const s = snapshot({
      preset: { instances: 2, ttlSeconds: 3600 },
      running: [pb('a', 2 * HOUR), pb('b', 10 * 60_000), pb('c', 5 * 60_000, { ready: false }), pb('d', 60_000)],
      inProgress: [
        { transition: 'start', count: 1 },
        { transition: 'stop', count: 2 },
        { transition: 'delete', count: 3 },
        { transition: 'start', count: 1 },
      ],
    });
    const { state } = plan(s);
    assert.deepEqual(state, { actual: 4, desired: 2, expired: 1, eligible: 2, extraneous: 1, starting: 2, stopping: 2, deleting: 3 });
  });

  test('desired follows the schedule at now', () => {
    const s = snapshot({ preset: { instances: 1, timezone: 'Europe/Berlin', schedules: [{ cron: '* 9-18 * * 1-5', instances: 4 }] } });
    assert.equal(plan(s).state.desired, 4); // 13:00 in Berlin on a Monday
    assert.equal(plan(s, new Date('2026-01-05T18:00:00Z')).state.desired, 1); // 19:00 in Berlin
    // Unusable stored schedules: base count.
    assert.equal(plan(snapshot({ preset: { instances: 1, timezone: 'Nope/Nope', schedules: [{ cron: '* * * * *', instances: 4 }] } })).state.desired, 1);
  });
});

describe('planPreset: TTL (§4.1 expired, strictly greater)', () => {
  const ttl = 3600;
  test('exactly at the limit is not expired; 1 ms later it is', () => {
    const at = snapshot({ preset: { instances: 1, ttlSeconds: ttl }, running: [pb('a', ttl * 1000)] });
    assert.equal(plan(at).state.expired, 0);
    assert.deepEqual(plan(at).actions, []);
    const over = snapshot({ preset: { instances: 1, ttlSeconds: ttl }, running: [pb('a', ttl * 1000 + 1)] });
    assert.equal(plan(over).state.expired, 1);
    assert.deepEqual(plan(over).actions, [
      { type: 'delete', ids: ['a'], reason: 'expired' },
      { type: 'create', count: 1 },
    ]);
  });

  test('ttl 0 and null never expire', () => {
    for (const ttlSeconds of [0, null]) {
      const s = snapshot({ preset: { instances: 1, ttlSeconds }, running: [pb('a', 1000 * 24 * HOUR)] });
      assert.equal(plan(s).state.expired, 0);
      assert.deepEqual(plan(s).actions, []);
    }
  });

  test('an invalidated prebuild counts as expired regardless of ttl', () => {
    const s = snapshot({ preset: { instances: 1, ttlSeconds: null }, running: [pb('a', 1000, { invalidated: true }), pb('b', 500)] });
    const result = plan(s);
    assert.equal(result.state.expired, 1);
    assert.equal(result.state.eligible, 1);
    assert.deepEqual(result.actions, [{ type: 'delete', ids: ['a'], reason: 'expired' }]);
  });

  test('expired prebuilds are not eligible even when ready', () => {
    const s = snapshot({ preset: { instances: 2, ttlSeconds: ttl }, running: [pb('a', 2 * HOUR), pb('b', 60_000)] });
    assert.equal(plan(s).state.eligible, 1);
  });
});

describe('planPreset: actions (§4.2)', () => {
  test('create up to desired; only starting reduces creation', () => {
    assert.deepEqual(plan(snapshot({ preset: { instances: 3 } })).actions, [{ type: 'create', count: 3 }]);
    assert.deepEqual(plan(snapshot({ preset: { instances: 3 }, running: [pb('a', 1)], inProgress: [{ transition: 'start', count: 1 }] })).actions, [
      { type: 'create', count: 1 },
    ]);
    const stoppingDeleting = snapshot({ preset: { instances: 3 }, running: [pb('a', 1)], inProgress: [{ transition: 'stop', count: 1 }, { transition: 'delete', count: 1 }] });
    assert.deepEqual(plan(stoppingDeleting).actions, [{ type: 'create', count: 2 }]);
    assert.deepEqual(plan(snapshot({ preset: { instances: 3 }, inProgress: [{ transition: 'start', count: 5 }] })).actions, []);
  });

  test('not-ready running prebuilds count toward actual (no double creation while agents start)', () => {
    const s = snapshot({ preset: { instances: 2 }, running: [pb('a', 1, { ready: false }), pb('b', 2, { ready: false })] });
    assert.deepEqual(plan(s).actions, []);
    assert.equal(plan(s).state.eligible, 0);
  });

  test('steady state: no action at all (empty actions are omitted)', () => {
    assert.deepEqual(plan(snapshot({ preset: { instances: 2 }, running: [pb('a', 1), pb('b', 2)] })).actions, []);
    assert.deepEqual(plan(snapshot({ preset: { instances: 0 } })).actions, []);
  });

  test('expired first, then the oldest non-expired extraneous, then create', () => {
    const s = snapshot({
      preset: { instances: 1, ttlSeconds: 3600 },
      running: [pb('young', 60_000), pb('old', 30 * 60_000), pb('expired', 2 * HOUR), pb('mid', 10 * 60_000)],
    });
    const { state, actions } = plan(s);
    assert.equal(state.extraneous, 2);
    assert.deepEqual(actions, [
      { type: 'delete', ids: ['expired'], reason: 'expired' },
      { type: 'delete', ids: ['old', 'mid'], reason: 'extraneous' },
    ]);
  });

  test('expired prebuilds are replaced', () => {
    const s = snapshot({ preset: { instances: 3, ttlSeconds: 3600 }, running: [pb('x', 3 * HOUR), pb('y', 2 * HOUR), pb('z', 1)] });
    assert.deepEqual(plan(s).actions, [
      { type: 'delete', ids: ['x', 'y'], reason: 'expired' },
      { type: 'create', count: 2 },
    ]);
  });

  test('ties in createdAt are broken by ascending id in code-unit order, not locale order', () => {
    const same = 5 * 60_000;
    const ids = ['b', 'a', 'B', 'aa', 'é', 'z', 'A10', 'A9'];
    const s = snapshot({ preset: { instances: 0 }, running: ids.map((id) => pb(id, same)) });
    const expected = ['A10', 'A9', 'B', 'a', 'aa', 'b', 'z', 'é'];
    assert.deepEqual(plan(s).actions, [{ type: 'delete', ids: expected, reason: 'extraneous' }]);
    // Same order for expired and inactive deletions, and createdAt still comes first.
    const expired = snapshot({ preset: { instances: 0, ttlSeconds: 3600 }, running: [...ids.map((id) => pb(id, 2 * HOUR)), pb('0', 3 * HOUR)] });
    assert.deepEqual(plan(expired).actions, [{ type: 'delete', ids: ['0', ...expected], reason: 'expired' }]);
    const inactive = snapshot({ preset: { usingActiveVersion: false }, running: ids.map((id) => pb(id, same)) });
    assert.deepEqual(plan(inactive).actions, [{ type: 'delete', ids: expected, reason: 'inactive' }]);
  });

  test('a repeated id is one prebuild: counted once, deleted once', () => {
    const s = snapshot({ preset: { instances: 0 }, running: [pb('a', 2 * HOUR), pb('a', 2 * HOUR), pb('b', HOUR)] });
    const { state, actions } = plan(s);
    assert.equal(state.actual, 2);
    assert.deepEqual(actions, [{ type: 'delete', ids: ['a', 'b'], reason: 'extraneous' }]);
    const expired = snapshot({ preset: { ttlSeconds: 3600 }, running: [pb('a', 2 * HOUR), pb('a', 2 * HOUR)] });
    assert.deepEqual(plan(expired).actions, [{ type: 'delete', ids: ['a'], reason: 'expired' }, { type: 'create', count: 2 }]);
  });

  test('the input order of running does not matter', () => {
    const running = [pb('c', 3000), pb('a', 1000), pb('b', 2000)];
    const a = plan(snapshot({ preset: { instances: 1 }, running }));
    const b = plan(snapshot({ preset: { instances: 1 }, running: [...running].reverse() }));
    assert.deepEqual(a, b);
    assert.deepEqual(a.actions, [{ type: 'delete', ids: ['c', 'b'], reason: 'extraneous' }]);
  });
});

describe('planPreset: inactive presets (§4.2.2)', () => {
  const variants: [string, Partial<PresetSnapshot['preset']>][] = [
    ['not the active version', { usingActiveVersion: false }],
    ['template deleted', { templateDeleted: true }],
    ['template deprecated', { templateDeprecated: true }],
  ];
  for (const [why, preset] of variants) {
    test(`${why}: delete every running prebuild, expired or not, oldest first`, () => {
      const s = snapshot({
        preset: { instances: 5, ttlSeconds: 3600, ...preset },
        running: [pb('fresh', 60_000), pb('expired', 2 * HOUR, { ready: false }), pb('invalid', 30 * 60_000, { invalidated: true })],
        inProgress: [{ transition: 'start', count: 1 }],
      });
      const { state, actions } = plan(s);
      assert.deepEqual(actions, [{ type: 'delete', ids: ['expired', 'invalid', 'fresh'], reason: 'inactive' }]);
      assert.equal(state.desired, 0);
      assert.equal(state.eligible, 0);
      assert.equal(state.extraneous, 0);
      assert.equal(state.actual, 3);
      assert.equal(state.expired, 2);
      assert.equal(state.starting, 1);
    });
  }

  test('inactive with nothing running: no action', () => {
    assert.deepEqual(plan(snapshot({ preset: { templateDeleted: true } })).actions, []);
  });
});

describe('planPreset: backoff gate (§4.2.1)', () => {
  const failureAt = new Date(NOW.getTime() - 30_000);
  const backoff = { failures: 2, newestFailureAt: failureAt };
  const until = new Date(failureAt.getTime() + 2 * INTERVAL);

  test('exactly at until: still in backoff, the only action', () => {
    const s = snapshot({ preset: { instances: 3 }, backoff, running: [pb('a', 1)] });
    const result = plan(s, until);
    assert.deepEqual(result.actions, [{ type: 'backoff', until }]);
    assert.equal(result.state.desired, 3); // the state is still reported
  });

  test('1 ms after until: normal actions', () => {
    const s = snapshot({ preset: { instances: 3 }, backoff, running: [pb('a', 1)] });
    assert.deepEqual(plan(s, new Date(until.getTime() + 1)).actions, [{ type: 'create', count: 2 }]);
  });

  test('before until, even deletes of expired prebuilds wait', () => {
    const s = snapshot({ preset: { instances: 1, ttlSeconds: 3600 }, backoff, running: [pb('old', 2 * HOUR)] });
    assert.deepEqual(plan(s).actions, [{ type: 'backoff', until }]);
  });

  test('the gate applies to inactive presets too', () => {
    const s = snapshot({ preset: { usingActiveVersion: false }, backoff, running: [pb('a', 1)] });
    assert.deepEqual(plan(s).actions, [{ type: 'backoff', until }]);
    assert.deepEqual(plan(s, new Date(until.getTime() + 1)).actions, [{ type: 'delete', ids: ['a'], reason: 'inactive' }]);
  });

  test('a backoff row with 0 failures does not gate', () => {
    const s = snapshot({ preset: { instances: 1 }, backoff: { failures: 0, newestFailureAt: NOW } });
    assert.deepEqual(plan(s).actions, [{ type: 'create', count: 1 }]);
  });

  test('until scales with the number of failures and the interval', () => {
    const s = snapshot({ preset: { instances: 1 }, backoff: { failures: 5, newestFailureAt: NOW } });
    const result = planPreset(s, { now: NOW, backoffIntervalMs: 1000 });
    assert.deepEqual(result.actions, [{ type: 'backoff', until: new Date(NOW.getTime() + 5000) }]);
  });
});

describe('gateActions (§4.2.4)', () => {
  const actions: Action[] = [
    { type: 'delete', ids: ['x'], reason: 'expired' },
    { type: 'delete', ids: ['y'], reason: 'extraneous' },
    { type: 'create', count: 4 },
  ];
  test('hard-limited or validation-failed presets create nothing; deletes still run', () => {
    const deletes = actions.slice(0, 2);
    assert.deepEqual(gateActions(actions, { hardLimited: true, validationFailed: false, desiredIfActive: 9 }), deletes);
    assert.deepEqual(gateActions(actions, { hardLimited: false, validationFailed: true, desiredIfActive: 9 }), deletes);
  });
  test('a create is capped at the desired count now', () => {
    assert.deepEqual(gateActions(actions, { hardLimited: false, validationFailed: false, desiredIfActive: 2 }).at(-1), { type: 'create', count: 2 });
    assert.deepEqual(gateActions(actions, { hardLimited: false, validationFailed: false, desiredIfActive: 4 }), actions);
    assert.deepEqual(gateActions(actions, { hardLimited: false, validationFailed: false, desiredIfActive: 0 }), actions.slice(0, 2));
  });
  test('backoff passes through unchanged', () => {
    const backoff: Action[] = [{ type: 'backoff', until: NOW }];
    assert.deepEqual(gateActions(backoff, { hardLimited: true, validationFailed: true, desiredIfActive: 0 }), backoff);
  });
});

describe('nextWakeAt', () => {
  test('next schedule boundary', () => {
    const s = snapshot({ preset: { instances: 1, timezone: 'UTC', schedules: [{ cron: '* 9-17 * * *', instances: 3 }] } });
    assert.deepEqual(nextWakeAt(s, { now: NOW, backoffIntervalMs: INTERVAL }), new Date('2026-01-05T18:00:00Z'));
  });
  test('first instant a running prebuild is strictly past its TTL', () => {
    const s = snapshot({ preset: { ttlSeconds: 3600 }, running: [pb('a', 10 * 60_000), pb('b', 20 * 60_000)] });
    const wake = nextWakeAt(s, { now: NOW, backoffIntervalMs: INTERVAL })!;
    assert.equal(wake.getTime(), NOW.getTime() - 20 * 60_000 + 3600_000 + 1);
    const running = s.running[1]!;
    assert.equal(plan(s, new Date(wake.getTime() - 1)).state.expired, 0);
    assert.equal(plan(s, wake).state.expired, 1, running.id);
  });
  test('already expired or invalidated prebuilds do not wake; ttl 0 never does', () => {
    const s = snapshot({ preset: { ttlSeconds: 3600 }, running: [pb('a', 2 * HOUR), pb('b', 1, { invalidated: true })] });
    assert.equal(nextWakeAt(s, { now: NOW, backoffIntervalMs: INTERVAL }), null);
    assert.equal(nextWakeAt(snapshot({ preset: { ttlSeconds: 0 }, running: [pb('a', 1)] }), { now: NOW, backoffIntervalMs: INTERVAL }), null);
  });
  test('1 ms after the end of backoff, and the earliest of all candidates', () => {
    const s = snapshot({ preset: { ttlSeconds: 3600 }, backoff: { failures: 1, newestFailureAt: NOW }, running: [pb('a', 1)] });
    assert.deepEqual(nextWakeAt(s, { now: NOW, backoffIntervalMs: INTERVAL }), new Date(NOW.getTime() + INTERVAL + 1));
    assert.equal(nextWakeAt(s, { now: new Date(NOW.getTime() + INTERVAL + 1), backoffIntervalMs: INTERVAL })!.getTime(), NOW.getTime() - 1 + 3600_000 + 1);
  });
  test('nothing pending: null', () => {
    assert.equal(nextWakeAt(snapshot(), { now: NOW, backoffIntervalMs: INTERVAL }), null);
  });
  test('schedule boundaries do not wake an inactive preset (it wants 0 regardless)', () => {
    const schedules = { instances: 1, timezone: 'UTC', schedules: [{ cron: '* 9-17 * * *', instances: 3 }] };
    assert.equal(nextWakeAt(snapshot({ preset: { ...schedules, templateDeprecated: true } }), { now: NOW, backoffIntervalMs: INTERVAL }), null);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Property tests over random snapshots.

const SCHEDULE_SETS = [
  { timezone: '', schedules: [] },
  { timezone: 'Europe/Berlin', schedules: [{ cron: '* 9-18 * * 1-5', instances: 5 }] },
  { timezone: 'Asia/Kolkata', schedules: [{ cron: '* 0-11 * * *', instances: 0 }, { cron: '* 12-23 * * *', instances: 3 }] },
  { timezone: 'America/New_York', schedules: [{ cron: '* * 1 * *', instances: 7 }] },
  { timezone: 'Bad/Zone', schedules: [{ cron: '* * * * *', instances: 7 }] },
];

const snapshotArb: fc.Arbitrary<PresetSnapshot> = fc
  .record({
    instances: fc.integer({ min: 0, max: 6 }),
    active: fc.boolean(),
    inactiveReason: fc.constantFrom('version', 'deleted', 'deprecated'),
    ttlSeconds: fc.constantFrom(null, 0, 3600, 7200),
    scheduleSet: fc.constantFrom(...SCHEDULE_SETS),
    running: fc.uniqueArray(
      fc.record({
        id: fc.string({ minLength: 1, maxLength: 3 }),
        ageMs: fc.oneof(fc.integer({ min: 0, max: 3 * HOUR }), fc.constantFrom(3600_000, 3600_001, 7200_000, 7200_001)),
        ready: fc.boolean(),
        invalidated: fc.option(fc.boolean(), { nil: undefined }),
      }),
      { selector: (r) => r.id, maxLength: 10 },
    ),
    starting: fc.integer({ min: 0, max: 4 }),
    stopping: fc.integer({ min: 0, max: 2 }),
    deleting: fc.integer({ min: 0, max: 2 }),
    backoff: fc.option(fc.record({ failures: fc.integer({ min: 0, max: 3 }), agoMs: fc.integer({ min: -60_000, max: 600_000 }) }), { nil: null }),
  })
  .map((r) => ({
    preset: {
      id: 'p',
      instances: r.instances,
      usingActiveVersion: r.active || r.inactiveReason !== 'version',
      templateDeleted: !r.active && r.inactiveReason === 'deleted',
      templateDeprecated: !r.active && r.inactiveReason === 'deprecated',
      ttlSeconds: r.ttlSeconds,
      timezone: r.scheduleSet.timezone,
      schedules: r.scheduleSet.schedules,
    },
    running: r.running.map((p) => ({ id: p.id, createdAt: ago(p.ageMs), ready: p.ready, ...(p.invalidated === undefined ? {} : { invalidated: p.invalidated }) })),
    inProgress: [
      { transition: 'start' as const, count: r.starting },
      { transition: 'stop' as const, count: r.stopping },
      { transition: 'delete' as const, count: r.deleting },
    ],
    backoff: r.backoff && { failures: r.backoff.failures, newestFailureAt: ago(r.backoff.agoMs) },
    hardLimited: false,
  }));

const deletedIds = (actions: Action[]) => actions.flatMap((a) => (a.type === 'delete' ? a.ids : []));
const created = (actions: Action[]) => actions.reduce((n, a) => n + (a.type === 'create' ? a.count : 0), 0);

describe('planPreset properties', () => {
  test('creations never exceed desired (neither the state nor desiredInstancesAt(now))', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const { state, actions } = plan(s);
        assert.ok(created(actions) <= state.desired);
        assert.ok(state.desired <= desiredInstancesAt(s.preset, NOW));
        assert.ok(actions.filter((a) => a.type === 'create').length <= 1);
      }),
      { numRuns: 500 },
    );
  });

  test('nothing outside running is deleted, and no id is deleted twice', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const ids = deletedIds(plan(s).actions);
        const running = new Set(s.running.map((p) => p.id));
        for (const id of ids) assert.ok(running.has(id), id);
        assert.equal(new Set(ids).size, ids.length);
      }),
      { numRuns: 500 },
    );
  });

  test('repeating running entries changes nothing: same state, same actions', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        assert.deepEqual(plan({ ...s, running: [...s.running, ...s.running.slice().reverse()] }), plan(s));
      }),
      { numRuns: 300 },
    );
  });

  test('the backoff action is alone, exactly while now <= until', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const { actions } = plan(s);
        const gated = s.backoff !== null && s.backoff.failures > 0 && NOW.getTime() <= s.backoff.newestFailureAt.getTime() + s.backoff.failures * INTERVAL;
        if (gated) assert.deepEqual(actions, [{ type: 'backoff', until: new Date(s.backoff!.newestFailureAt.getTime() + s.backoff!.failures * INTERVAL) }]);
        else assert.ok(actions.every((a) => a.type !== 'backoff'));
      }),
      { numRuns: 500 },
    );
  });

  test('actions come in order: expired deletes, extraneous deletes, create; never empty', () => {
    const rank = (a: Action) => (a.type === 'backoff' ? 0 : a.type === 'delete' ? { inactive: 1, expired: 1, extraneous: 2 }[a.reason] : 3);
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const { actions } = plan(s);
        for (let i = 1; i < actions.length; i++) assert.ok(rank(actions[i - 1]!) < rank(actions[i]!));
        for (const a of actions) {
          if (a.type === 'delete') assert.ok(a.ids.length > 0);
          if (a.type === 'create') assert.ok(a.count > 0);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('applying the plan (remove deleted, add created as running) and re-planning yields no action', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        const first = plan(s);
        fc.pre(first.actions.every((a) => a.type !== 'backoff'));
        const gone = new Set(deletedIds(first.actions));
        const fresh = Array.from({ length: created(first.actions) }, (_, i) => ({ id: `new-${i}`, createdAt: NOW, ready: false }));
        const applied: PresetSnapshot = { ...s, running: [...s.running.filter((p) => !gone.has(p.id)), ...fresh] };
        assert.deepEqual(plan(applied).actions, []);
      }),
      { numRuns: 500 },
    );
  });

  test('nextWakeAt: the plan is constant from now until the wake instant, and differs at it', () => {
    const horizon = 8 * 24 * HOUR;
    fc.assert(
      fc.property(snapshotArb, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (s, fraction) => {
        const wake = nextWakeAt(s, { now: NOW, backoffIntervalMs: INTERVAL });
        const end = wake ? wake.getTime() : NOW.getTime() + horizon;
        assert.ok(end > NOW.getTime());
        const before = new Date(NOW.getTime() + Math.floor((end - NOW.getTime()) * fraction));
        assert.deepEqual(plan(s, before), plan(s), `plan changed at ${before.toISOString()} before ${wake?.toISOString()}`);
        assert.deepEqual(plan(s, new Date(end - 1)), plan(s));
        if (wake) assert.notDeepEqual(plan(s, wake), plan(s));
      }),
      { numRuns: 500 },
    );
  });

  test('gated execution never creates more than desired now', () => {
    fc.assert(
      fc.property(snapshotArb, fc.boolean(), fc.boolean(), (s, hardLimited, validationFailed) => {
        const { state, actions } = plan(s);
        const gated = gateActions(actions, { hardLimited, validationFailed, desiredIfActive: state.desired });
        assert.ok(created(gated) <= state.desired);
        if (hardLimited || validationFailed) assert.equal(created(gated), 0);
        assert.deepEqual(deletedIds(gated), deletedIds(actions));
      }),
      { numRuns: 300 },
    );
  });
});
