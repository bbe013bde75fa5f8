import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '@warmpool/bus';
import {
  activateVersion,
  advanceRollout,
  createWorkspace,
  endRolloutNow,
  importVersion,
  reconcilePresets,
  rolloutProgress,
  stageVersion,
  type RolloutDeps,
} from '@warmpool/operations';
import { createLogger } from '@warmpool/runtime';
import { completePendingBuilds } from '../support/fake-provisioner.js';
import { useReconcileEnv } from '../support/pipeline.js';
import { seedOrganization, seedTemplate } from '../support/seed.js';
import { userWithRole } from '../support/api.js';

// Staged rollouts on real PostgreSQL (BEHAVIOUR.md §4.7), with builds completed on the rows (fake provisioner): the
// reconciles, the surge budget, promotion, stops with their notice, and the refusals that change nothing.
const env = useReconcileEnv({ backoffIntervalMs: 1000, backoffLookbackMs: 3_600_000, failureHardLimit: 3, maxInflightPrebuildBuilds: 50 });
const logger = createLogger('test', { level: 'silent' });
const noReconcile = async () => {};

const manifest = (name: string, presets: Record<string, number>) => ({
  name,
  parameters: [],
  presets: Object.entries(presets).map(([preset, instances]) => ({ name: preset, prebuilds: { instances } })),
});

async function newTemplate() {
  const organizationId = await seedOrganization(env.db.pool);
  return { organizationId, templateId: await seedTemplate(env.db.pool, organizationId) };
}

const templateOps = () => ({ pool: env.db.pool, reconcile: noReconcile });
const rolloutDeps = (): RolloutDeps => ({ pool: env.db.pool, relay: env.relay, logger, reconcile: noReconcile });

/** Reconciles the presets (per-preset and batch paths as the reconciler would) and lets the fake provisioner finish their builds. */
async function reconcileAndBuild(presetIds: string[], finish = true): Promise<void> {
  await reconcilePresets(env.deps(), presetIds);
  if (finish) for (const id of presetIds) await completePendingBuilds(env.db.pool, { presetId: id });
}

const startingBuilds = async (versionId: string) =>
  (
    await env.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM prebuild_workspaces w JOIN presets p ON p.id = w.preset_id
       WHERE p.template_version_id = $1 AND w.transition = 'start' AND w.job_status IN ('pending', 'running')`,
      [versionId],
    )
  ).rows[0]!.n;

const eligible = async (presetId: string) => (await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM running_prebuilds WHERE preset_id = $1 AND eligible', [presetId])).rows[0]!.n;
const code = (expected: string, path?: string) => (err: unknown) =>
  err instanceof DomainError && err.code === expected && (path === undefined || err.details.some((d) => d.path === path));

test('a staged version warms within its surge budget, is never claimed, and is promoted in one step when warm', async () => {
  const { organizationId, templateId } = await newTemplate();
  const v1 = await importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v1', { small: 2, large: 1 }), createdBy: null, activate: true });
  const v1Ids = v1.presets.map((p) => p.id);
  await reconcileAndBuild(v1Ids);

  const v2 = await importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v2', { small: 2, large: 1, extra: 1 }), createdBy: null, activate: false, rollout: { surge: '2' } });
  assert.equal(v2.rollout?.state, 'staged');
  assert.equal(v2.rollout?.surgeBuilds, 2);
  const v2Ids = v2.presets.map((p) => p.id);
  const { userId } = await userWithRole(env.db.pool, 'member', organizationId);
  const wsDeps = { pool: env.db.pool, queues: env.queues, relay: env.relay, logger };

  // Staged creates: never more than the surge in flight, template-wide, however the presets are reconciled.
  await reconcilePresets(env.deps(), v2Ids);
  for (const id of v2Ids) await reconcilePresets(env.deps(), [id]);
  assert.equal(await startingBuilds(v2.versionId), 2, 'the surge budget (2) bounds staged builds in flight');
  assert.equal((await advanceRollout(rolloutDeps(), v2.rollout!.id))?.kind, 'wait');

  // While staged, claims take the active version; a staged preset cannot be named.
  const hit = await createWorkspace(wsDeps, { organizationId, templateId, userId, name: 'during', parameters: {} });
  assert.equal(hit.claimed, true);
  assert.equal(hit.workspace.template_version_id, v1.versionId, 'the old pool serves');
  await assert.rejects(createWorkspace(wsDeps, { organizationId, templateId, userId, name: 'staged', presetId: v2Ids[0]! }), code('validation_failed', 'body.preset_id'));

  for (let round = 0; round < 6; round++) {
    await completePendingBuilds(env.db.pool);
    await reconcilePresets(env.deps(), [...v1Ids, ...v2Ids]);
    assert.ok((await startingBuilds(v2.versionId)) <= 2, 'surge respected in every round');
  }
  await completePendingBuilds(env.db.pool);
  const progress = await rolloutProgress({ pool: env.db.pool }, templateId, v2.rollout!.id);
  assert.deepEqual(progress?.presets.map((p) => [p.name, p.eligible, p.threshold, p.warm]), [['extra', 1, 1, true], ['large', 1, 1, true], ['small', 2, 2, true]]);
  assert.equal(progress?.decision?.kind, 'promote');

  assert.deepEqual(await advanceRollout(rolloutDeps(), v2.rollout!.id), { kind: 'promote' });
  const { rows } = await env.db.pool.query('SELECT active_version_id FROM templates WHERE id = $1', [templateId]);
  assert.equal(rows[0].active_version_id, v2.versionId);
  assert.equal((await rolloutProgress({ pool: env.db.pool }, templateId, v2.rollout!.id))?.rollout.state, 'promoted');
  assert.equal(await advanceRollout(rolloutDeps(), v2.rollout!.id), null, 'an ended rollout is left alone');

  // Claims now land on the new version at once (its pool is warm); the old version's prebuilds are deleted.
  const after = await createWorkspace(wsDeps, { organizationId, templateId, userId, name: 'after', parameters: {} });
  assert.equal(after.claimed, true);
  assert.equal(after.workspace.template_version_id, v2.versionId);
  await reconcileAndBuild(v1Ids);
  for (const id of v1Ids) assert.equal(await eligible(id), 0, 'no old prebuild left');
});

test('bad input and conflicting requests are refused with a 4xx code and change nothing', async () => {
  const { templateId } = await newTemplate();
  const v1 = await importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v1', { small: 1 }), createdBy: null, activate: true });
  const versions = async () => (await env.db.pool.query('SELECT count(*)::int AS n FROM template_versions WHERE template_id = $1', [templateId])).rows[0].n;

  await assert.rejects(importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('bad', { small: 1 }), createdBy: null, activate: false, rollout: { surge: '0', deadlineSeconds: 10 } }), (err: unknown) =>
    code('validation_failed', 'querystring.surge')(err) && code('validation_failed', 'querystring.deadline_seconds')(err));
  await assert.rejects(importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('bad', { small: 1 }), createdBy: null, activate: false, rollout: { surge: '101%' } }), code('validation_failed', 'querystring.surge'));
  await assert.rejects(importVersion(templateOps(), { template: { id: templateId }, manifest: { name: 'bad', presets: [{ name: '' }] }, createdBy: null, activate: false, rollout: {} }), code('invalid_manifest'));
  assert.equal(await versions(), 1, 'nothing stored');
  await assert.rejects(stageVersion(templateOps(), { templateId, versionId: v1.versionId, options: {}, createdBy: null }), code('conflict'), 'the active version');

  const v2 = await importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v2', { small: 1 }), createdBy: null, activate: false, rollout: {} });
  await assert.rejects(importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v3', { small: 1 }), createdBy: null, activate: false, rollout: {} }), code('conflict'), 'a second rollout');
  await assert.rejects(importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v3', { small: 1 }), createdBy: null, activate: true }), code('conflict'), 'immediate activation during a rollout');
  await assert.rejects(activateVersion(templateOps(), { templateId, versionId: v2.versionId }), code('conflict'));
  assert.equal(await versions(), 2, 'the refused imports stored nothing');

  const canceled = await endRolloutNow(templateOps(), { templateId, rolloutId: v2.rollout!.id, action: 'cancel' });
  assert.equal(canceled.state, 'canceled');
  await assert.rejects(endRolloutNow(templateOps(), { templateId, rolloutId: v2.rollout!.id, action: 'promote' }), code('conflict'), 'promoting a canceled rollout');
  const { rows } = await env.db.pool.query('SELECT active_version_id FROM templates WHERE id = $1', [templateId]);
  assert.equal(rows[0].active_version_id, v1.versionId, 'still the old version');

  // An operator may promote a cold rollout at once (then it behaves like an immediate activation).
  const v4 = await stageVersion(templateOps(), { templateId, versionId: v2.versionId, options: { surge: '50%', deadlineSeconds: 60 }, createdBy: null });
  assert.equal((await endRolloutNow(templateOps(), { templateId, rolloutId: v4.id, action: 'promote' })).state, 'promoted');
  assert.equal((await env.db.pool.query('SELECT active_version_id FROM templates WHERE id = $1', [templateId])).rows[0].active_version_id, v2.versionId);
});

test('a rollout not warm by its deadline stops once: not promoted, one notice, its staged prebuilds deleted', async () => {
  const { templateId } = await newTemplate();
  const v1 = await importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v1', { small: 1 }), createdBy: null, activate: true });
  await reconcileAndBuild(v1.presets.map((p) => p.id));
  const v2 = await importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v2', { small: 2 }), createdBy: null, activate: false, rollout: { deadlineSeconds: 60 } });
  const staged = v2.presets[0]!.id;
  await reconcilePresets(env.deps(), [staged]);
  // One staged prebuild gets ready, the other never does.
  const { rows: pending } = await env.db.pool.query<{ id: string }>(
    `SELECT b.id FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.preset_id = $1 AND b.job_status = 'pending' ORDER BY b.id LIMIT 1`,
    [staged],
  );
  await env.db.pool.query(`UPDATE builds SET job_status = 'succeeded', completed_at = now() WHERE id = $1`, [pending[0]!.id]);
  await env.db.pool.query(`INSERT INTO agents (build_id, name, ready, ready_at) VALUES ($1, 'main', true, now())`, [pending[0]!.id]);

  const late = new Date(v2.rollout!.deadlineAt.getTime() + 1);
  assert.equal((await advanceRollout(rolloutDeps(), v2.rollout!.id, new Date(v2.rollout!.deadlineAt.getTime())))?.kind, 'wait');
  const stop = await advanceRollout(rolloutDeps(), v2.rollout!.id, late);
  assert.deepEqual(stop, { kind: 'stop', reason: 'deadline', presetId: staged, detail: 'not warm by the deadline: "small" 1/2 eligible' });
  assert.equal(await advanceRollout(rolloutDeps(), v2.rollout!.id, late), null, 'stopped once');
  const notices = await env.db.pool.query(`SELECT payload FROM outbox WHERE name = 'rollout-stopped' AND payload->>'rolloutId' = $1`, [v2.rollout!.id]);
  assert.equal(notices.rowCount, 1, 'exactly one notice');
  assert.equal(notices.rows[0].payload.reason, 'deadline');
  assert.equal((await env.db.pool.query('SELECT active_version_id FROM templates WHERE id = $1', [templateId])).rows[0].active_version_id, v1.versionId);

  // The staged pool drains (like an inactive version's); the old one is untouched.
  await reconcileAndBuild([staged, v1.presets[0]!.id]);
  await reconcileAndBuild([staged]);
  const left = await env.db.pool.query(`SELECT count(*)::int AS n FROM prebuild_workspaces WHERE preset_id = $1 AND running`, [staged]);
  assert.equal(left.rows[0].n, 0, 'no staged prebuild left');
  assert.equal(await eligible(v1.presets[0]!.id), 1, 'the old pool intact');
});

test('a staged preset that reaches its failure limit stops the rollout with that reason', async () => {
  const { templateId } = await newTemplate();
  await importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v1', { small: 1 }), createdBy: null, activate: true });
  const v2 = await importVersion(templateOps(), { template: { id: templateId }, manifest: manifest('v2', { small: 1, large: 1 }), createdBy: null, activate: false, rollout: {} });
  const large = v2.presets.find((p) => p.name === 'large')!.id;
  await env.db.pool.query(`UPDATE presets SET status = 'hard_limited', status_changed_at = now() WHERE id = $1`, [large]);
  const stop = await advanceRollout(rolloutDeps(), v2.rollout!.id);
  assert.equal(stop?.kind, 'stop');
  assert.equal(stop?.kind === 'stop' && stop.reason, 'failure_limit');
  assert.equal(stop?.kind === 'stop' && stop.presetId, large);
});
