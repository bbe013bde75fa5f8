import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePreset, needsPresetLock, NOTICE_TEXT_LIMIT, planWrites, type PresetRecord, type Write } from '../src/index.js';
import { NOW, record, SETTINGS } from './record.js';

const failed = (error: string, minutesAgo: number): PresetRecord['population'][number] => ({
  status: 'failed',
  createdAt: new Date(NOW.getTime() - minutesAgo * 60_000),
  completedAt: new Date(NOW.getTime() - minutesAgo * 60_000 + 1_000),
  error,
});
const writesOf = (r: PresetRecord): Write[] => planWrites(r, evaluatePreset(r, NOW, SETTINGS));
const oneRunning = [{ id: 'a', createdAt: new Date(NOW.getTime() - 60_000), ready: true, invalidated: false }];
const brokenExpression = record({ preset: { autoscaling: { expression: 'claims_60m / misses_60m' } } });

test('planWrites: what a reconcile writes for one preset', () => {
  const cases: { name: string; record: PresetRecord; writes: Write[] }[] = [
    { name: 'converged', record: record(), writes: [] },
    { name: 'empty pool', record: record({ running: [] }), writes: [{ type: 'create', count: 2, level: 0, parameters: {} }] },
    { name: 'one short: its fair-share level is the one it has', record: record({ running: oneRunning }), writes: [{ type: 'create', count: 1, level: 1, parameters: {} }] },
    {
      name: 'declared defaults under the preset values',
      record: record({ running: [], preset: { parameters: { size: 'l' }, declarations: [{ name: 'size', default: 'm' }, { name: 'zone', default: 'a' }] } }),
      writes: [{ type: 'create', count: 2, level: 0, parameters: { size: 'l', zone: 'a' } }],
    },
    { name: 'inactive: its pool drains', record: record({ preset: { templateDeprecated: true } }), writes: [{ type: 'delete', ids: ['a', 'b'] }] },
    {
      name: 'schedule problem appeared (the base count still applies)',
      record: record({ preset: { schedules: { not: 'a list' } } }),
      writes: [{ type: 'record-problem', problem: 'schedule', text: 'stored schedules are not a list' }],
    },
    { name: 'stored schedule problem is current', record: record({ preset: { schedules: { not: 'a list' }, scheduleError: 'stored schedules are not a list' } }), writes: [] },
    { name: 'schedule problem gone', record: record({ preset: { scheduleError: 'old problem' } }), writes: [{ type: 'record-problem', problem: 'schedule', text: null }] },
    {
      name: 'expression failing at run time: the schedule decides, the problem is recorded',
      record: brokenExpression,
      writes: [{ type: 'record-problem', problem: 'autoscaling', text: evaluatePreset(brokenExpression, NOW, SETTINGS).sizing.error }],
    },
    { name: 'expression wanting more', record: record({ preset: { autoscaling: { expression: 'scheduled_target + 3' } } }), writes: [{ type: 'create', count: 3, level: 2, parameters: {} }] },
    {
      name: 'failure limit reached: transition and its notice, no create',
      record: record({ running: [], population: [failed('boom 3', 1), failed('boom 2', 2), failed('boom 1', 3)] }),
      writes: [
        { type: 'transition', status: 'hard_limited', reason: 'the newest 3 builds failed' },
        { type: 'notice', notice: { event: 'preset-hard-limited', failures: 3, lastError: 'boom 3' } },
      ],
    },
    { name: 'already hard-limited: nothing', record: record({ running: [], preset: { status: 'hard_limited' }, population: [failed('x', 1), failed('x', 2), failed('x', 3)] }), writes: [] },
    {
      name: 'parameters that can never build: one failed request, the transition and its notice',
      record: record({ running: [], preset: { declarations: [{ name: 'region', required: true }] } }),
      writes: [
        { type: 'failed-request', parameters: {}, error: 'missing required parameter: region' },
        { type: 'transition', status: 'validation_failed', reason: 'missing required parameter: region' },
        { type: 'notice', notice: { event: 'preset-validation-failed', error: 'missing required parameter: region' } },
      ],
    },
    { name: 'validation failed: no more creates', record: record({ running: [], preset: { status: 'validation_failed', declarations: [{ name: 'region', required: true }] } }), writes: [] },
  ];
  for (const c of cases) assert.deepEqual(writesOf(c.record), c.writes, c.name);
});

test('a notice carries at most the contract bound of error text', () => {
  const long = 'x'.repeat(NOTICE_TEXT_LIMIT + 10);
  const writes = writesOf(record({ running: [], population: [failed(long, 1), failed(long, 2), failed(long, 3)] }));
  const notice = writes.find((w) => w.type === 'notice');
  assert.equal(notice?.type === 'notice' && notice.notice.event === 'preset-hard-limited' && notice.notice.lastError?.length, NOTICE_TEXT_LIMIT);
});

test('only pool writes and transitions need the preset lock; problem records do not', () => {
  assert.equal(needsPresetLock([]), false);
  assert.equal(needsPresetLock([{ type: 'record-problem', problem: 'schedule', text: null }]), false);
  assert.equal(needsPresetLock([{ type: 'record-problem', problem: 'autoscaling', text: 'e' }, { type: 'delete', ids: ['a'] }]), true);
  assert.equal(needsPresetLock([{ type: 'transition', status: 'hard_limited', reason: 'r' }]), true);
});
