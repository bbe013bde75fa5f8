import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presetStatus, storedDesiredInstances } from '../src/index.js';
import { NOW, record, SETTINGS } from './record.js';

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
