import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  claimInflightSlots,
  ensureInflightSlots,
  inflightCreates,
  insertDeleteBuilds,
  insertFailedPrebuild,
  insertPrebuilds,
  loadPresetSnapshot,
  presetsNeedingAttention,
  transitionPresetStatus,
  withTransaction,
} from '@warmpool/db';
import { useTestDatabase } from '../support/env.js';
import { prebuildTarget, seedPresets, seedVersion, setPaused } from '../support/seed.js';
import { completePendingBuilds } from '../support/fake-provisioner.js';

const db = useTestDatabase();


test('snapshot of an unknown preset is null', async () => {
  assert.equal(await loadPresetSnapshot(db.pool, '99999999-9999-4999-8999-999999999999'), null);
});

test('snapshot reports preset flags, running/ready, in-progress, population and invalidation', async () => {
  const [s] = await seedPresets(db.pool, [{ instances: 3, ttlSeconds: 7200, timezone: 'UTC', parameters: { region: 'eu' } }]);
  const p = s!;
  await withTransaction(db.pool, (c) => insertPrebuilds(c, prebuildTarget(p), 2, { region: 'eu' }));
  let snap = (await loadPresetSnapshot(db.pool, p.presetId))!;
  assert.equal(snap.preset.instances, 3);
  assert.equal(snap.preset.ttlSeconds, 7200);
  assert.equal(snap.preset.usingActiveVersion, true);
  assert.equal(snap.preset.templateDeleted, false);
  assert.equal(snap.paused, false);
  assert.deepEqual(snap.running, []);
  assert.deepEqual(snap.inProgress, [{ transition: 'start', count: 2 }]);
  assert.equal(snap.population.length, 2);
  assert.ok(snap.population.every((b) => b.status === 'pending'));

  await completePendingBuilds(db.pool);
  // One more, left pending without agents: in progress, not running.
  await withTransaction(db.pool, (c) => insertPrebuilds(c, prebuildTarget(p), 1, {}));
  snap = (await loadPresetSnapshot(db.pool, p.presetId))!;
  assert.equal(snap.running.length, 2);
  assert.ok(snap.running.every((r) => r.ready && !r.invalidated));
  assert.ok(snap.running[0]!.createdAt <= snap.running[1]!.createdAt, 'oldest first');
  assert.deepEqual(snap.inProgress, [{ transition: 'start', count: 1 }]);
  assert.equal(snap.population.length, 3);
  assert.equal(snap.population[0]!.status, 'pending', 'newest first');

  // A succeeded build whose agent is not ready is running but not ready.
  await db.pool.query(`UPDATE agents SET ready = false WHERE build_id = (SELECT id FROM builds WHERE workspace_id = $1)`, [snap.running[0]!.id]);
  await db.pool.query('UPDATE presets SET invalidated_at = now() WHERE id = $1', [p.presetId]);
  await setPaused(db.pool, true);
  snap = (await loadPresetSnapshot(db.pool, p.presetId))!;
  assert.equal(snap.running[0]!.ready, false);
  assert.ok(snap.running.every((r) => r.invalidated));
  assert.equal(snap.paused, true);
  await setPaused(db.pool, false);

  // Activating another version makes the preset inactive: nothing in progress or in the population counts.
  await seedVersion(db.pool, p.templateId, [{ instances: 1 }]);
  snap = (await loadPresetSnapshot(db.pool, p.presetId))!;
  assert.equal(snap.preset.usingActiveVersion, false);
  assert.deepEqual(snap.inProgress, []);
  assert.deepEqual(snap.population, []);
  assert.equal(snap.running.length, 2, 'running prebuilds of an inactive preset are still listed (to be deleted)');
});

test('failures before failures_reset_at leave the population; failed requests are recorded', async () => {
  const [s] = await seedPresets(db.pool, [{ instances: 1 }]);
  const p = s!;
  await withTransaction(db.pool, (c) => insertFailedPrebuild(c, prebuildTarget(p), {}, 'missing required parameter "region"'));
  let snap = (await loadPresetSnapshot(db.pool, p.presetId))!;
  assert.equal(snap.population.length, 1);
  assert.equal(snap.population[0]!.status, 'failed');
  assert.match(snap.population[0]!.error ?? '', /region/);
  assert.ok(snap.population[0]!.completedAt);
  await db.pool.query('UPDATE presets SET failures_reset_at = now() WHERE id = $1', [p.presetId]);
  snap = (await loadPresetSnapshot(db.pool, p.presetId))!;
  assert.deepEqual(snap.population, []);
});

test('delete builds are only inserted for prebuilds still owned by the system with a succeeded start', async () => {
  const [s] = await seedPresets(db.pool, [{ instances: 3 }]);
  const p = s!;
  const created = await withTransaction(db.pool, (c) => insertPrebuilds(c, prebuildTarget(p), 3, {}));
  await completePendingBuilds(db.pool, { presetId: p.presetId });
  const [a, b, c] = created.map((x) => x.workspaceId);
  // b was claimed by a user meanwhile; c's latest build is a pending stop.
  const { rows: u } = await db.pool.query<{ id: string }>(`INSERT INTO users (username) VALUES ('alice') RETURNING id`);
  await db.pool.query('UPDATE workspaces SET owner_id = $2 WHERE id = $1', [b, u[0]!.id]);
  await db.pool.query(
    `INSERT INTO builds (workspace_id, build_number, template_version_id, transition, initiator_id, reason)
     VALUES ($1, 2, $2, 'stop', '00000000-0000-0000-0000-000000000001', 'user')`,
    [c, p.versionId],
  );
  const deletes = await withTransaction(db.pool, (cl) => insertDeleteBuilds(cl, [a!, b!, c!]));
  assert.deepEqual(deletes.map((d) => d.workspaceId), [a]);
  assert.equal(deletes[0]!.buildNumber, 2);
  const snap = (await loadPresetSnapshot(db.pool, p.presetId))!;
  assert.deepEqual(
    [...snap.inProgress].sort((x, y) => x.transition.localeCompare(y.transition)),
    [{ transition: 'delete', count: 1 }, { transition: 'stop', count: 1 }],
  );
});

test('status transitions happen once; creates hold in-flight slots until their build ends', async () => {
  const [s] = await seedPresets(db.pool, [{ instances: 1 }]);
  const p = s!;
  const first = await withTransaction(db.pool, (c) => transitionPresetStatus(c, p.presetId, 'hard_limited', '3 failures'));
  const second = await withTransaction(db.pool, (c) => transitionPresetStatus(c, p.presetId, 'hard_limited', '3 failures'));
  assert.ok(first instanceof Date);
  assert.equal(second, null);
  await ensureInflightSlots(db.pool, 1000);
  const before = await inflightCreates(db.pool);
  await withTransaction(db.pool, async (c) => {
    const slots = await claimInflightSlots(c, { presetId: p.presetId, cap: 1000, wanted: 2, level: 0, fair: true });
    assert.equal(slots.length, 2);
    return insertPrebuilds(c, prebuildTarget(p), 2, {}, slots);
  });
  assert.equal((await inflightCreates(db.pool)) - before, 2);
  await completePendingBuilds(db.pool, { presetId: p.presetId });
  assert.equal(await inflightCreates(db.pool), before, 'the trigger frees the slots of ended builds');
});

test('presets needing attention: active ones and inactive ones with prebuilds left', async () => {
  const seeded = await seedPresets(db.pool, [{ instances: 1 }, { instances: 0 }]);
  const ids = await presetsNeedingAttention(db.pool);
  for (const s of seeded) assert.ok(ids.includes(s.presetId));
  const t = seeded[0]!;
  await withTransaction(db.pool, (c) => insertPrebuilds(c, prebuildTarget(t), 1, {}));
  await db.pool.query('UPDATE templates SET deprecated = true WHERE id = $1', [t.templateId]);
  const after = await presetsNeedingAttention(db.pool);
  assert.ok(after.includes(t.presetId), 'deprecated preset with an in-progress prebuild still needs attention');
  assert.ok(!after.includes(seeded[1]!.presetId), 'deprecated preset with nothing left does not');
});
