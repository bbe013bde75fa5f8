import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueSet, createRedis, DomainError, type QueueSet } from '@warmpool/bus';
import { createWorkspace, deleteWorkspace, grantUserRole, OutboxRelay, previewSchedule } from '@warmpool/operations';
import { createLogger } from '@warmpool/runtime';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { seedEligiblePrebuild, userWithRole } from '../support/api.js';
import { seedPresets } from '../support/seed.js';
import { SYSTEM_USER_ID } from '@warmpool/db';
import { waitFor } from '../support/wait.js';

// The workspace operations without HTTP: what the API route and any other caller share (§5, §4.4).
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
let deps: Parameters<typeof createWorkspace>[0];
const logger = createLogger('test', { level: 'silent' });

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
  deps = { pool: db.pool, queues, logger, relay: new OutboxRelay(db.pool, queues, logger) };
});
after(async () => {
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

const code = (expected: string) => (err: unknown) => err instanceof DomainError && err.code === expected;

test('createWorkspace claims an eligible prebuild first, then builds fresh, and refuses bad input with a code', async () => {
  const [p] = await seedPresets(db.pool, [{ name: 'small', instances: 1, parameters: { size: 's' } }]);
  const prebuild = await seedEligiblePrebuild(db.pool, p!);
  const { userId } = await userWithRole(db.pool, 'member', p!.organizationId);
  const input = { organizationId: p!.organizationId, templateId: p!.templateId, userId };

  const claimed = await createWorkspace(deps, { ...input, name: 'one', parameters: { size: 's' } });
  assert.equal(claimed.claimed, true);
  assert.equal(claimed.workspace.id, prebuild, 'the prebuild changed hands');
  assert.equal(claimed.workspace.owner_id, userId);
  assert.equal(claimed.claim?.presetName, 'small');
  const refill = await waitFor(async () => (await queues.reconcile.getJobs(['wait'])).find((j) => j.data.presetId === p!.presetId), { what: 'the refill reconcile' });
  assert.equal(refill.data.trigger, 'claim');

  const fresh = await createWorkspace(deps, { ...input, name: 'two', presetId: p!.presetId });
  assert.deepEqual([fresh.claimed, fresh.presetId, fresh.claim], [false, p!.presetId, undefined]);
  assert.notEqual(fresh.workspace.id, prebuild);

  await assert.rejects(createWorkspace(deps, { ...input, name: 'two' }), code('conflict'), 'a name the user already uses');
  await assert.rejects(createWorkspace(deps, { ...input, name: 'three', presetId: '99999999-9999-4999-8999-999999999999' }), code('validation_failed'));
  await assert.rejects(createWorkspace(deps, { ...input, templateId: '99999999-9999-4999-8999-999999999999', name: 'four' }), code('not_found'));
  await db.pool.query('UPDATE templates SET deprecated = true WHERE id = $1', [p!.templateId]);
  await assert.rejects(createWorkspace(deps, { ...input, name: 'five' }), code('template_deprecated'));
});

test('deleteWorkspace asks the caller to authorize on the locked row and refuses a second delete', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  const prebuild = await seedEligiblePrebuild(db.pool, p!);
  const { userId } = await userWithRole(db.pool, 'owner', null);
  const refused = new Error('refused by the caller');
  await assert.rejects(deleteWorkspace(deps, { workspaceId: prebuild, initiatorId: userId, authorize: () => { throw refused; } }), (err) => err === refused);
  const seen: string[] = [];
  const buildId = await deleteWorkspace(deps, { workspaceId: prebuild, initiatorId: userId, authorize: (ws) => void seen.push(ws.owner_id) });
  assert.match(buildId, /^[0-9a-f-]{36}$/);
  assert.equal(seen.length, 1);
  assert.ok(await queues.buildRequests.getJob(`build-${buildId}`), 'the delete request was relayed after the commit');
  await assert.rejects(deleteWorkspace(deps, { workspaceId: prebuild, initiatorId: userId, authorize: () => undefined }), code('conflict'));
  await assert.rejects(deleteWorkspace(deps, { workspaceId: '99999999-9999-4999-8999-999999999999', initiatorId: userId, authorize: () => undefined }), code('not_found'));
});

test('previewSchedule checks its window once for every caller; grantUserRole refuses the system user and bad scopes', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1, timezone: 'UTC', schedules: [{ cron: '* 9-17 * * *', instances: 3 }] }]);
  const from = new Date('2026-03-02T00:00:00Z');
  const points = await previewSchedule(db.pool, { presetId: p!.presetId, from, to: new Date('2026-03-03T00:00:00Z') });
  assert.deepEqual(points.map((x) => x.instances), [1, 3, 1]);
  await assert.rejects(previewSchedule(db.pool, { presetId: p!.presetId, from, to: from }), code('validation_failed'));
  await assert.rejects(previewSchedule(db.pool, { presetId: p!.presetId, from, to: new Date(from.getTime() + 32 * 86_400_000) }), code('validation_failed'));
  await assert.rejects(previewSchedule(db.pool, { presetId: '99999999-9999-4999-8999-999999999999', from, to: new Date('2026-03-03T00:00:00Z') }), code('not_found'));

  await assert.rejects(grantUserRole(db.pool, { username: 'prebuilds', role: 'owner', organizationId: null }), code('validation_failed'));
  await assert.rejects(grantUserRole(db.pool, { username: 'm', role: 'member', organizationId: null }), code('validation_failed'));
  await assert.rejects(grantUserRole(db.pool, { username: 'o', role: 'owner', organizationId: p!.organizationId }), code('validation_failed'));
  const id = await grantUserRole(db.pool, { username: 'dev', role: 'member', organizationId: p!.organizationId });
  assert.equal(await grantUserRole(db.pool, { username: 'dev', role: 'member', organizationId: p!.organizationId }), id, 'granting again changes nothing');
  // The same door by id: an existing user only, never the system user.
  assert.equal(await grantUserRole(db.pool, { userId: id, role: 'org-admin', organizationId: p!.organizationId }), id);
  const roles = await db.pool.query<{ role: string }>('SELECT role FROM role_assignments WHERE user_id = $1 ORDER BY role', [id]);
  assert.deepEqual(roles.rows.map((r) => r.role), ['member', 'org-admin']);
  await assert.rejects(grantUserRole(db.pool, { userId: SYSTEM_USER_ID, role: 'member', organizationId: p!.organizationId }), code('not_found'));
  await assert.rejects(grantUserRole(db.pool, { userId: '99999999-9999-4999-8999-999999999999', role: 'member', organizationId: p!.organizationId }), code('not_found'));
  await assert.rejects(grantUserRole(db.pool, { userId: id, role: 'member', organizationId: null }), code('validation_failed'));
});
