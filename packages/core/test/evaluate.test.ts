import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePreset, needsReconcile, presetStatus, reconcileNeeds, storedDesiredInstances, type PresetRecord } from '../src/index.js';

const NOW = new Date('2026-03-02T10:30:00Z');
const SETTINGS = { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3 };

function record(overrides: { preset?: Partial<PresetRecord['preset']>; running?: PresetRecord['running'] } = {}): PresetRecord {
  return {
    preset: {
      id: 'p1', name: 'small', instances: 2, ttlSeconds: null, timezone: '', schedules: [], parameters: {}, status: 'healthy',
      statusChangedAt: null, scheduleError: null, templateVersionId: 'v1', versionName: 'v1', declarations: [], templateId: 't1',
      templateName: 'web', templateDeleted: false, templateDeprecated: false, usingActiveVersion: true, organizationId: 'o1',
      organizationName: 'acme', ...overrides.preset,
    },
    paused: false,
    running: overrides.running ?? [
      { id: 'a', createdAt: new Date(NOW.getTime() - 60_000), ready: true, invalidated: false },
      { id: 'b', createdAt: new Date(NOW.getTime() - 30_000), ready: true, invalidated: false },
    ],
    inProgress: [],
    population: [],
  };
}

test('one predicate decides whether a preset needs a reconcile job', () => {
  const cases: { name: string; record: PresetRecord; writes: boolean; scheduleProblem: boolean }[] = [
    { name: 'converged', record: record(), writes: false, scheduleProblem: false },
    { name: 'short of desired', record: record({ running: [] }), writes: true, scheduleProblem: false },
    { name: 'schedule problem appeared', record: record({ preset: { schedules: { not: 'a list' } } }), writes: false, scheduleProblem: true },
    { name: 'stored problem is current', record: record({ preset: { schedules: { not: 'a list' }, scheduleError: 'stored schedules are not a list' } }), writes: false, scheduleProblem: false },
    { name: 'inactive with prebuilds', record: record({ preset: { templateDeprecated: true } }), writes: true, scheduleProblem: false },
  ];
  for (const c of cases) {
    const view = evaluatePreset(c.record, NOW, SETTINGS);
    assert.deepEqual(reconcileNeeds(view, c.record.preset.scheduleError), { writes: c.writes, scheduleProblem: c.scheduleProblem }, c.name);
    assert.equal(needsReconcile(view, c.record.preset.scheduleError), c.writes || c.scheduleProblem, c.name);
  }
});

test('status reports activity with the planner rule and desired as the plan sees it', () => {
  const inactive = presetStatus(record({ preset: { templateDeleted: true } }), NOW, SETTINGS);
  assert.equal(inactive.active, false);
  assert.equal(inactive.desiredNow, 0, 'an inactive preset wants nothing');
  const active = presetStatus(record(), NOW, SETTINGS);
  assert.deepEqual([active.active, active.desiredNow, active.running, active.eligible], [true, 2, 2, 2]);
});

test('desired from stored fields uses the evaluation rule: bad stored schedules fall back to the base count', () => {
  const stored = { instances: 2, timezone: 'UTC', schedules: [{ cron: '* 9-17 * * *', instances: 5 }] };
  assert.equal(storedDesiredInstances(stored, NOW), 5);
  assert.equal(storedDesiredInstances({ ...stored, schedules: { not: 'a list' } }, NOW), 2);
  assert.equal(storedDesiredInstances({ ...stored, schedules: null }, NOW), 2);
});
