import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILD_PRIORITY,
  buildRequestedPayload,
  buildRequestKey,
  isRole,
  notificationEventKey,
  notificationKey,
  endsBuild,
  isTerminalJobStatus,
  QUEUES,
  RECONCILE_TRIGGERS,
  resultJobId,
  ReconcileJob,
  reconcileTriggerLabel,
  ROLES,
  wakeJobId,
  type NotificationEvent,
} from '../src/index.js';

const id = '3f1c2b9e-8a47-4d2e-9b6a-1c2d3e4f5a6b';

test('message keys are valid BullMQ job ids (no ":") and stable per identity', () => {
  const keys = [
    buildRequestKey(id),
    wakeJobId(id, new Date('2026-01-01T00:00:00Z')),
    notificationKey({ type: 'preset-hard-limited', presetId: id, transitionAt: '2026-01-01T02:00:00+02:00', failures: 3, lastError: null }),
    notificationKey({ type: 'resource-replacements', presetId: id, workspaceId: id, buildId: id, buildNumber: 2, claimantId: id, replacements: { a: ['b'] } }),
    resultJobId({ type: 'build-started', buildId: id, at: '2026-01-01T00:00:00Z' }),
    resultJobId({ type: 'agent-ready', buildId: id, agent: 'main', at: '2026-01-01T00:00:00Z' }),
    resultJobId({ type: 'workspace-lost', workspaceId: id, incident: 'abc', at: '2026-01-01T00:00:00Z', reason: 'gone' }),
  ];
  for (const key of keys) assert.ok(!key.includes(':'), key);
  assert.equal(keys[0], `build-${id}`);
  assert.equal(keys[1], `wake-${id}-1767225600000`);
  assert.equal(keys[2], `preset-hard-limited-${id}-1767225600000`, 'the instant, whatever its offset');
  assert.equal(keys[3], `replacements-${id}`);
  assert.deepEqual(keys.slice(4), [`build-started-${id}`, `agent-ready-${id}-main`, `workspace-lost-${id}-abc`], 'one result job per fact');
});

test('terminal is one rule: the job statuses that end a build, and the results that record one', () => {
  assert.deepEqual(['pending', 'running', 'succeeded', 'failed', 'canceled'].filter(isTerminalJobStatus), ['succeeded', 'failed', 'canceled']);
  const types = ['build-started', 'build-succeeded', 'build-failed', 'build-canceled', 'agent-ready', 'workspace-lost'] as const;
  assert.deepEqual(types.filter((type) => endsBuild({ type })), ['build-succeeded', 'build-failed', 'build-canceled']);
});

test('the notifier event identity keeps its stored format and ignores the offset', () => {
  const at = (transitionAt: string): NotificationEvent => ({ type: 'preset-validation-failed', presetId: id, transitionAt, error: 'x' });
  assert.equal(notificationEventKey(at('2026-01-01T03:00:00+02:00')), `preset-validation-failed:${id}:2026-01-01T01:00:00.000Z`);
  assert.equal(notificationEventKey(at('2026-01-01T03:00:00+02:00')), notificationEventKey(at('2026-01-01T01:00:00Z')));
});

test('buildRequestedPayload validates, keeps only the contract fields and sets the key', () => {
  const build = { buildId: id, workspaceId: id, transition: 'start' as const, templateVersionId: id, presetId: null, parameters: { a: 'b' }, reason: 'user' as const };
  const payload = buildRequestedPayload({ ...build, ...{ buildNumber: 3, priority: 1 } });
  assert.deepEqual(payload, { ...build, idempotencyKey: `build-${id}` });
  assert.throws(() => buildRequestedPayload({ ...build, workspaceId: 'not-a-uuid' }));
  assert.throws(() => buildRequestedPayload({ ...build, reason: 'other' as 'user' }));
});

test('queues, priorities and roles are one table each', () => {
  assert.equal(new Set(Object.values(QUEUES)).size, Object.keys(QUEUES).length);
  assert.ok(BUILD_PRIORITY.human < BUILD_PRIORITY.delete && BUILD_PRIORITY.delete < BUILD_PRIORITY.create);
  assert.deepEqual([...ROLES], ['owner', 'template-admin', 'org-admin', 'member']);
  assert.ok(isRole('member'));
  assert.ok(!isRole('prebuilds'));
});

test('a reconcile trigger is its own metric label when known, else other; any short trigger is still a valid job', () => {
  for (const trigger of RECONCILE_TRIGGERS) assert.equal(reconcileTriggerLabel(trigger), trigger);
  assert.equal(reconcileTriggerLabel('from-a-newer-version'), 'other');
  assert.equal(reconcileTriggerLabel('toString'), 'other');
  assert.ok(ReconcileJob.safeParse({ presetId: id, trigger: 'from-a-newer-version' }).success);
});
