import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import { createQueueSet, createRedis, type QueueSet } from '@warmpool/bus';
import { handleBuildResult, OutboxRelay } from '@warmpool/operations';
import { createLogger } from '@warmpool/runtime';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { seedPendingBuild } from '../support/seed.js';

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const redis = createRedis(REDIS_URL, { role: 'producer' });
let queues: QueueSet;
const logs: { level: number; msg: string }[] = [];
const logger = createLogger('test', {
  level: 'debug',
  destination: { write: (line: string) => void logs.push(JSON.parse(line)) },
});
let deps: Parameters<typeof handleBuildResult>[0];

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  queues = createQueueSet(redis, prefix.prefix);
  deps = { pool: db.pool, queues, relay: new OutboxRelay(db.pool, queues, logger), logger };
});
after(async () => {
  await queues.close();
  await redis.quit();
  await prefix.cleanup();
  await db.drop();
});

const pendingBuild = (options: Parameters<typeof seedPendingBuild>[1] = {}) => seedPendingBuild(db.pool, options);

const at = () => new Date().toISOString();
const build = async (id: string) => (await db.pool.query('SELECT * FROM builds WHERE id = $1', [id])).rows[0];

test('started → succeeded → agent-ready are applied once each; redelivery is a no-op', async () => {
  const { buildId, presetId } = await pendingBuild();
  const log = logger;
  assert.deepEqual(await handleBuildResult(deps, { type: 'build-started', buildId, at: at() }, log), { kind: 'applied' });
  assert.equal((await handleBuildResult(deps, { type: 'build-started', buildId, at: at() }, log)).kind, 'rejected');
  assert.equal((await build(buildId)).job_status, 'running');
  const succeeded = { type: 'build-succeeded', buildId, at: at(), agents: [{ name: 'main', ready: false }] };
  assert.deepEqual(await handleBuildResult(deps, succeeded, log), { kind: 'applied' });
  assert.equal((await handleBuildResult(deps, succeeded, log)).kind, 'rejected', 'second terminal result rejected');
  assert.equal((await handleBuildResult(deps, { type: 'build-failed', buildId, at: at(), error: 'late', retryable: false }, log)).kind, 'rejected');
  assert.equal((await build(buildId)).job_status, 'succeeded');
  assert.deepEqual(await handleBuildResult(deps, { type: 'agent-ready', buildId, agent: 'main', at: at() }, log), { kind: 'applied' });
  assert.equal((await handleBuildResult(deps, { type: 'agent-ready', buildId, agent: 'nope', at: at() }, log)).kind, 'rejected');
  const { rows } = await db.pool.query('SELECT name, ready FROM agents WHERE build_id = $1', [buildId]);
  assert.deepEqual(rows, [{ name: 'main', ready: true }]);
  // Every applied result asks for the preset's reconcile (deduplicated to one waiting job).
  const waiting = await queues.reconcile.getJobs(['wait']);
  assert.ok(waiting.some((j) => j.data.presetId === presetId));
});

test('a failed prebuild build is recorded with its error and counted once', async () => {
  const { buildId, presetId } = await pendingBuild();
  const failed = { type: 'build-failed', buildId, at: at(), error: 'boom', retryable: true };
  await handleBuildResult(deps, failed, logger);
  await handleBuildResult(deps, failed, logger);
  const b = await build(buildId);
  assert.equal(b.job_status, 'failed');
  assert.equal(b.error, 'boom');
  assert.ok(b.completed_at);
  const { rows } = await db.pool.query(`SELECT value FROM preset_counters WHERE preset_id = $1 AND name = 'failed'`, [presetId]);
  assert.deepEqual(rows, [{ value: 1 }]);
});

test('a succeeded delete build marks the workspace deleted', async () => {
  const { buildId, workspaceId } = await pendingBuild({ transition: 'delete', reason: 'prebuild-delete' });
  await handleBuildResult(deps, { type: 'build-succeeded', buildId, at: at(), agents: [] }, logger);
  const { rows } = await db.pool.query('SELECT deleted FROM workspaces WHERE id = $1', [workspaceId]);
  assert.equal(rows[0].deleted, true);
});

test('replacements on a claim build become exactly one notifier event, even when redelivered', async () => {
  const { rows: users } = await db.pool.query(`INSERT INTO users (username) VALUES ('claimant-' || gen_random_uuid()) RETURNING id`);
  const { buildId } = await pendingBuild({ reason: 'claim', initiator: users[0].id });
  const replacements = { 'aws_instance.dev': ['tags.Owner'] };
  const result = { type: 'build-succeeded', buildId, at: at(), agents: [{ name: 'main', ready: true }], replacements };
  await handleBuildResult(deps, result, logger);
  await handleBuildResult(deps, result, logger);
  const { rows } = await db.pool.query(`SELECT payload FROM outbox WHERE queue = 'notifications' AND payload->>'buildId' = $1`, [buildId]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].payload.type, 'resource-replacements');
  assert.equal(rows[0].payload.claimantId, users[0].id);
  assert.deepEqual(rows[0].payload.replacements, replacements);
  assert.ok(await queues.notifications.getJob(`replacements-${buildId}`), 'relayed to the notifier queue');
});

test('unknown builds are rejected and logged; malformed payloads are unrecoverable', async () => {
  logs.length = 0;
  assert.deepEqual(await handleBuildResult(deps, { type: 'build-started', buildId: randomUUID(), at: at() }, logger), { kind: 'rejected', reason: 'unknown build' });
  assert.ok(logs.some((l) => l.msg === 'build result rejected'));
  const malformed: unknown[] = [
    null,
    'text',
    { type: 'build-started' },
    { type: 'build-started', buildId: 'not-a-uuid', at: at() },
    { type: 'build-failed', buildId: randomUUID(), at: at(), error: 1, retryable: true },
    { type: 'build-started', buildId: randomUUID(), at: at(), extra: true },
    { type: 'teleport', buildId: randomUUID(), at: at() },
  ];
  for (const payload of malformed) {
    await assert.rejects(handleBuildResult(deps, payload, logger), (err) => err instanceof UnrecoverableError, JSON.stringify(payload));
  }
  assert.equal(logs.filter((l) => l.msg === 'malformed build result rejected').length, malformed.length);
});

test('an agent-ready that overtakes its build-succeeded is retried, not rejected', async () => {
  const { buildId } = await pendingBuild();
  await assert.rejects(handleBuildResult(deps, { type: 'agent-ready', buildId, agent: 'main', at: at() }, logger), /arrived early/);
  await handleBuildResult(deps, { type: 'build-succeeded', buildId, at: at(), agents: [{ name: 'main', ready: false }] }, logger);
  assert.deepEqual(await handleBuildResult(deps, { type: 'agent-ready', buildId, agent: 'main', at: at() }, logger), { kind: 'applied' });
});

test('concurrent duplicate deliveries apply once: the build row lock serializes them', async () => {
  const { rows: users } = await db.pool.query(`INSERT INTO users (username) VALUES ('claimant-' || gen_random_uuid()) RETURNING id`);
  const { buildId, presetId } = await pendingBuild({ reason: 'claim', initiator: users[0].id });
  const result = { type: 'build-succeeded', buildId, at: at(), agents: [{ name: 'main', ready: false }], replacements: { 'aws_instance.dev': ['user_data'] } };
  const outcomes = await Promise.all(Array.from({ length: 8 }, () => handleBuildResult(deps, result, logger)));
  assert.equal(outcomes.filter((o) => o.kind === 'applied').length, 1);
  const { rows: agents } = await db.pool.query('SELECT count(*)::int AS n FROM agents WHERE build_id = $1', [buildId]);
  assert.equal(agents[0].n, 1);
  const { rows: events } = await db.pool.query(`SELECT count(*)::int AS n FROM outbox WHERE queue = 'notifications' AND payload->>'buildId' = $1`, [buildId]);
  assert.equal(events[0].n, 1);
  const { rows: counters } = await db.pool.query(`SELECT value FROM preset_counters WHERE preset_id = $1 AND name = 'resource_replacements'`, [presetId]);
  assert.deepEqual(counters, [{ value: 1 }]);
});

test('a canceled prebuild create never counts as a failure and leaves no workspace behind', async () => {
  const { buildId, workspaceId, presetId } = await pendingBuild();
  await handleBuildResult(deps, { type: 'build-started', buildId, at: at() }, logger);
  assert.deepEqual(await handleBuildResult(deps, { type: 'build-canceled', buildId, at: at(), reason: 'version inactive' }, logger), { kind: 'applied' });
  const row = await build(buildId);
  assert.equal(row.job_status, 'canceled');
  assert.equal(row.error, 'version inactive');
  const ws = await db.pool.query('SELECT deleted FROM workspaces WHERE id = $1', [workspaceId]);
  assert.equal(ws.rows[0].deleted, true);
  const failed = await db.pool.query(`SELECT value FROM preset_counters WHERE preset_id = $1 AND name = 'failed'`, [presetId]);
  assert.equal(failed.rowCount, 0, 'no failure counted');
  assert.equal((await handleBuildResult(deps, { type: 'build-succeeded', buildId, at: at(), agents: [] }, logger)).kind, 'rejected', 'terminal');
});

test('workspace-lost: a live prebuild gets a delete build and its request at once; anything else is ignored', async () => {
  const { buildId, workspaceId } = await pendingBuild();
  const lost = { type: 'workspace-lost', workspaceId, incident: 'c0ffee', at: at(), reason: 'container died (exit 137)' };
  assert.equal((await handleBuildResult(deps, lost, logger)).kind, 'rejected', 'not yet a running prebuild');
  await handleBuildResult(deps, { type: 'build-succeeded', buildId, at: at(), agents: [{ name: 'main', ready: true }] }, logger);
  assert.deepEqual(await handleBuildResult(deps, lost, logger), { kind: 'applied' });
  const { rows } = await db.pool.query(
    `SELECT b.id, b.transition, b.job_status, b.reason FROM builds b WHERE b.workspace_id = $1 ORDER BY build_number DESC LIMIT 1`,
    [workspaceId],
  );
  assert.deepEqual([rows[0].transition, rows[0].job_status, rows[0].reason], ['delete', 'pending', 'prebuild-delete']);
  assert.ok(await queues.buildRequests.getJob(`build-${rows[0].id}`), 'the delete request is relayed');
  assert.equal((await handleBuildResult(deps, lost, logger)).kind, 'rejected', 'a second report changes nothing');
  assert.deepEqual(await handleBuildResult(deps, { ...lost, workspaceId: randomUUID() }, logger), { kind: 'rejected', reason: 'unknown workspace' });
});
