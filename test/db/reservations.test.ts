import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  applyBuildResult,
  fallBackOverdueReservations,
  loadReservationInputs,
  recordBuildDuration,
  reservePrebuild,
  SYSTEM_USER_ID,
  withTransaction,
} from '@warmpool/db';
import type { ResultOfBuild } from '@warmpool/contracts';
import { userWithRole } from '../support/api.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';
import { seedPresets, type SeededPreset } from '../support/seed.js';

// Reservations of in-flight prebuilds and what build results do to them (BEHAVIOUR.md §5.1), on real PostgreSQL.
let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

/** A prebuild whose create is in flight (pending, or running), requested `agoMs` ago. */
async function inflightPrebuild(p: SeededPreset, status: 'pending' | 'running' = 'running', agoMs = 1_000): Promise<{ workspaceId: string; buildId: string }> {
  const workspaceId = randomUUID();
  const buildId = randomUUID();
  await db.pool.query(
    `INSERT INTO workspaces (id, organization_id, template_id, template_version_id, preset_id, owner_id, name) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [workspaceId, p.organizationId, p.templateId, p.versionId, p.presetId, SYSTEM_USER_ID, `pb-${workspaceId.slice(0, 8)}`],
  );
  await db.pool.query(
    `INSERT INTO builds (id, workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status, created_at, parameters)
     VALUES ($1, $2, 1, $3, 'start', $4, 'prebuild-create', $5, now() - make_interval(secs => $6::int / 1000.0), '{"region":"eu"}')`,
    [buildId, workspaceId, p.versionId, SYSTEM_USER_ID, status, agoMs],
  );
  return { workspaceId, buildId };
}

const apply = (result: ResultOfBuild) => withTransaction(db.pool, (client) => applyBuildResult(client, result));
const claimRow = async (workspaceId: string) =>
  (await db.pool.query('SELECT source, state, fallback_reason, build_id, usable_at FROM workspace_claims WHERE workspace_id = $1', [workspaceId])).rows[0];
const builds = async (workspaceId: string) =>
  (await db.pool.query<{ reason: string; job_status: string }>('SELECT reason, job_status FROM builds WHERE workspace_id = $1 ORDER BY build_number', [workspaceId])).rows;

async function reserve(p: SeededPreset, userId: string, name: string, candidates: string[], budgetMs = 60_000, mode: 'prefer' | 'require' = 'prefer') {
  return reservePrebuild(db.pool, {
    candidates: candidates.map((workspaceId) => ({ workspaceId, predictedMs: 1_000 })),
    presetId: p.presetId, userId, name, templateId: p.templateId, versionId: p.versionId, mode, budgetMs,
  });
}

test('50 concurrent reservations against 3 in-flight prebuilds: each reserved exactly once (PostgreSQL)', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 3 }]);
  const { userId } = await userWithRole(db.pool, 'member', p!.organizationId);
  const inflight = await Promise.all([1, 2, 3].map(() => inflightPrebuild(p!)));
  const candidates = inflight.map((i) => i.workspaceId);
  const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => reserve(p!, userId, `r-${i}`, candidates)));
  const reserved = outcomes.filter((o) => o.outcome === 'reserved').map((o) => (o.outcome === 'reserved' ? o.workspaceId : ''));
  assert.equal(reserved.length, 3);
  assert.deepEqual([...reserved].sort(), [...candidates].sort());
  const { rows } = await db.pool.query<{ workspace_id: string; n: number }>(
    `SELECT w.id AS workspace_id, count(c.*)::int AS n FROM workspaces w LEFT JOIN workspace_claims c ON c.workspace_id = w.id WHERE w.id = ANY($1) GROUP BY w.id`,
    [candidates],
  );
  assert.ok(rows.every((r) => r.n === 1), JSON.stringify(rows));
  const owners = await db.pool.query<{ owner_id: string }>('SELECT owner_id FROM workspaces WHERE id = ANY($1)', [candidates]);
  assert.ok(owners.rows.every((r) => r.owner_id === userId), 'reserved workspaces are the user’s, no longer prebuilds');
  // Nothing left to reserve, and the preset's inputs no longer list them as in flight.
  assert.equal((await reserve(p!, userId, 'late', candidates)).outcome, 'none');
  assert.deepEqual((await loadReservationInputs(db.pool, p!.presetId))!.inflight, []);
});

test('reserved create usable → claim build requested; claim build usable → usable with the time recorded', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  const { userId } = await userWithRole(db.pool, 'member', p!.organizationId);
  const { workspaceId, buildId } = await inflightPrebuild(p!);
  assert.equal((await reserve(p!, userId, 'mine', [workspaceId])).outcome, 'reserved');
  const succeeded = await apply({ type: 'build-succeeded', buildId, at: new Date().toISOString(), agents: [{ name: 'main', ready: false }] });
  assert.equal(succeeded.kind === 'applied' && succeeded.claim, undefined, 'not usable before its agent is ready');
  const ready = await apply({ type: 'agent-ready', buildId, at: new Date().toISOString(), agent: 'main' });
  assert.equal(ready.kind === 'applied' && ready.claim?.kind, 'claim-requested');
  assert.deepEqual(await builds(workspaceId), [{ reason: 'prebuild-create', job_status: 'succeeded' }, { reason: 'claim', job_status: 'pending' }]);
  const { rows: outbox } = await db.pool.query(`SELECT payload FROM outbox WHERE payload->>'workspaceId' = $1 AND payload->>'reason' = 'claim'`, [workspaceId]);
  assert.equal(outbox.length, 1, 'the claim build request is in the outbox');
  assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM build_durations WHERE build_id = $1', [buildId])).rows[0].n, 1, 'the create’s duration is history');
  const claimBuild = (await claimRow(workspaceId)).build_id as string;
  const done = await apply({ type: 'build-succeeded', buildId: claimBuild, at: new Date().toISOString(), agents: [{ name: 'main', ready: true }] });
  assert.equal(done.kind === 'applied' && done.claim?.kind, 'usable');
  assert.equal((await claimRow(workspaceId)).state, 'usable');
  assert.equal((await claimRow(workspaceId)).source, 'reserved');
});

for (const how of ['failed', 'canceled'] as const) {
  test(`reserved create ${how} → a cold build of the same workspace, which stays the user's`, async () => {
    const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
    const { userId } = await userWithRole(db.pool, 'member', p!.organizationId);
    const { workspaceId, buildId } = await inflightPrebuild(p!);
    assert.equal((await reserve(p!, userId, 'mine', [workspaceId], 60_000, 'require')).outcome, 'reserved');
    const result: ResultOfBuild = how === 'failed' ? { type: 'build-failed', buildId, at: new Date().toISOString(), error: 'boom', retryable: true } : { type: 'build-canceled', buildId, at: new Date().toISOString(), reason: 'version superseded' };
    const outcome = await apply(result);
    assert.equal(outcome.kind === 'applied' && outcome.claim?.kind, 'fallback');
    assert.deepEqual(await builds(workspaceId), [{ reason: 'prebuild-create', job_status: how }, { reason: 'user', job_status: 'pending' }]);
    const claim = await claimRow(workspaceId);
    assert.deepEqual([claim.source, claim.state, claim.fallback_reason], ['cold', 'building', how]);
    const { rows } = await db.pool.query('SELECT deleted, owner_id FROM workspaces WHERE id = $1', [workspaceId]);
    assert.deepEqual(rows[0], { deleted: false, owner_id: userId });
  });
}

test('overrun: a prefer reservation whose create is still queued falls back at its deadline; one the provisioner runs is kept', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 2 }]);
  const { userId } = await userWithRole(db.pool, 'member', p!.organizationId);
  const queued = await inflightPrebuild(p!, 'pending');
  const running = await inflightPrebuild(p!, 'running');
  const requiring = await inflightPrebuild(p!, 'pending');
  assert.equal((await reserve(p!, userId, 'q', [queued.workspaceId], 0)).outcome, 'reserved');
  assert.equal((await reserve(p!, userId, 'r', [running.workspaceId], 0)).outcome, 'reserved');
  assert.equal((await reserve(p!, userId, 'm', [requiring.workspaceId], 0, 'require')).outcome, 'reserved');
  const done = await withTransaction(db.pool, (client) => fallBackOverdueReservations(client));
  assert.deepEqual(done.map((d) => d.workspaceId), [queued.workspaceId]);
  assert.deepEqual([(await claimRow(queued.workspaceId)).fallback_reason, (await claimRow(queued.workspaceId)).source], ['overrun', 'cold']);
  assert.equal((await claimRow(running.workspaceId)).state, 'waiting');
  assert.equal((await claimRow(requiring.workspaceId)).state, 'waiting', 'require never builds cold on a timer');
  assert.deepEqual(await withTransaction(db.pool, (client) => fallBackOverdueReservations(client)), [], 'once');
});

test('the build history keeps the newest 100 per preset', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  const ids: string[] = [];
  for (let i = 0; i < 105; i++) ids.push((await inflightPrebuild(p!, 'running', 5_000)).buildId);
  await withTransaction(db.pool, async (client) => {
    for (const [i, id] of ids.entries()) await recordBuildDuration(client, id, new Date(Date.now() + i));
  });
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM build_durations WHERE preset_id = $1', [p!.presetId]);
  assert.equal(rows[0]!.n, 100);
  const inputs = (await loadReservationInputs(db.pool, p!.presetId))!;
  assert.equal(inputs.history.preset.length, 100);
  assert.ok(inputs.history.preset.every((s) => s.totalMs >= 5_000));
  const { rows: oldest } = await db.pool.query('SELECT 1 FROM build_durations WHERE build_id = ANY($1)', [ids.slice(0, 5)]);
  assert.equal(oldest.length, 0, 'the oldest five were pruned');
});
