import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { JOB_NAMES, StandbyRequested } from '@warmpool/contracts';
import { applyBuildResult, applyStandbyDone, claimPrebuild, loadStandbyPool, provisionersDeclare, recordProvisionerSeen, requestStandby, standbyCounts, withTransaction } from '@warmpool/db';
import { createTestDatabase, type TestDatabase } from '../support/env.js';
import { seedEligiblePrebuild, userWithRole } from '../support/api.js';
import { seedPresets } from '../support/seed.js';

// Standby tiers in SQL (migration 023): requests with their outbox rows, answers applied only while wanted, the
// claim's hot-first order, the capability every live provisioner must declare.
let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

const tier = async (id: string) =>
  (await db.pool.query<{ want: string | null; frozen: boolean }>('SELECT standby_want AS want, frozen_at IS NOT NULL AS frozen FROM workspaces WHERE id = $1', [id])).rows[0]!;

test('a freeze is asked for with its outbox message, recorded when done, and a late freeze answer after a thaw is ignored', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 2 }]);
  const a = await seedEligiblePrebuild(db.pool, p!);
  const at = new Date();
  assert.deepEqual(await withTransaction(db.pool, (c) => requestStandby(c, [{ id: a, action: 'freeze' }], at)), [a]);
  const { rows } = await db.pool.query<{ name: string; payload: unknown; priority: number }>('SELECT name, payload, priority FROM outbox WHERE payload->>\'workspaceId\' = $1', [a]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.name, JOB_NAMES.standbyRequested);
  assert.equal(StandbyRequested.safeParse(rows[0]!.payload).success, true);
  assert.deepEqual(await tier(a), { want: 'frozen', frozen: false });

  assert.equal(await applyStandbyDone(db.pool, { workspaceId: a, action: 'freeze', at }), p!.presetId);
  assert.deepEqual(await tier(a), { want: 'frozen', frozen: true });
  const pool = await loadStandbyPool(db.pool, p!.presetId);
  assert.deepEqual(pool.prebuilds.map((x) => [x.id, x.want, x.frozen]), [[a, 'frozen', true]]);

  // Thaw asked for; the thaw's answer clears frozen_at; a freeze answer arriving late changes nothing.
  await withTransaction(db.pool, (c) => requestStandby(c, [{ id: a, action: 'thaw' }], new Date(at.getTime() + 1)));
  assert.equal(await applyStandbyDone(db.pool, { workspaceId: a, action: 'thaw', at }), p!.presetId);
  assert.equal(await applyStandbyDone(db.pool, { workspaceId: a, action: 'freeze', at }), null);
  assert.deepEqual(await tier(a), { want: 'hot', frozen: false });
});

test('a claim takes a hot prebuild (never asked, or thawed) before a frozen one, even an older frozen one', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 3 }]);
  const older = await seedEligiblePrebuild(db.pool, p!);
  const newer = await seedEligiblePrebuild(db.pool, p!);
  await withTransaction(db.pool, (c) => requestStandby(c, [{ id: older, action: 'freeze' }], new Date()));
  await applyStandbyDone(db.pool, { workspaceId: older, action: 'freeze', at: new Date() });
  assert.deepEqual(await standbyCounts(db.pool, [p!.presetId]), new Map([[p!.presetId, { standby: null, hot: 1, frozen: 1 }]]));
  const { userId } = await userWithRole(db.pool, 'member', p!.organizationId);
  const claim = (name: string) => claimPrebuild(db.pool, { presetId: p!.presetId, userId, name, priority: 1, templateId: p!.templateId, versionId: p!.versionId });
  const first = await claim('first');
  assert.ok(first.outcome === 'claimed');
  assert.deepEqual([first.workspaceId, first.source], [newer, 'hot']);
  assert.equal('frozen_at' in first.workspace, false, 'the tier columns are not part of the returned row');
  const second = await claim('second');
  assert.ok(second.outcome === 'claimed');
  assert.deepEqual([second.workspaceId, second.source], [older, 'thawed']);
  // The claim build's success clears the tier: the workspace is no longer standby.
  await db.pool.query(`UPDATE builds SET job_status = 'running' WHERE id = $1`, [second.buildId]);
  await withTransaction(db.pool, (c) => applyBuildResult(c, { type: 'build-succeeded', buildId: second.buildId, at: new Date().toISOString(), agents: [{ name: 'main', ready: true }] }));
  assert.deepEqual(await tier(older), { want: null, frozen: false });
});

test('freeze is asked for only when every live provisioner declares it', async () => {
  assert.equal(await provisionersDeclare(db.pool, 'freeze'), false, 'nobody seen: nothing is asked for');
  await recordProvisionerSeen(db.pool, { provisioner: 'docker-a', capabilities: ['freeze'], at: new Date() });
  assert.equal(await provisionersDeclare(db.pool, 'freeze'), true);
  await recordProvisionerSeen(db.pool, { provisioner: 'sim-b', capabilities: [], at: new Date() });
  assert.equal(await provisionersDeclare(db.pool, 'freeze'), false, 'one live provisioner without it');
  // Seen long ago: no longer live, so no longer asked.
  await recordProvisionerSeen(db.pool, { provisioner: 'sim-b', capabilities: [], at: new Date(Date.now() - 10 * 60_000) });
  assert.equal(await provisionersDeclare(db.pool, 'freeze'), false, 'an older report never overwrites a newer one');
  await db.pool.query(`UPDATE provisioners SET last_seen_at = now() - interval '10 minutes' WHERE identity = 'sim-b'`);
  assert.equal(await provisionersDeclare(db.pool, 'freeze'), true);
});
