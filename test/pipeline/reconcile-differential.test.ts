import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { insertFailedPrebuild, withTransaction } from '@warmpool/db';
import { reconcilePreset, reconcilePresets, type ReconcileSettings } from '@warmpool/operations';
import { seedPresets } from '../support/seed.js';
import { completePendingBuilds } from '../support/fake-provisioner.js';
import { useReconcileEnv } from '../support/pipeline.js';

// A cap that never binds: with a binding cap, one batch shares slots max-min fair while one-by-one reconciles
// serve presets in arrival order, and the two are meant to differ (reconcile-batch.test.ts pins each).
const SETTINGS: ReconcileSettings = { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3, maxInflightPrebuildBuilds: 1_000 };
const env = useReconcileEnv(SETTINGS);

/** A preset's state before the reconcile, covering every kind of write planWrites makes. */
const presetSpec = fc.record({
  instances: fc.integer({ min: 0, max: 3 }),
  running: fc.integer({ min: 0, max: 3 }),
  failures: fc.integer({ min: 0, max: 3 }),
  badSchedules: fc.boolean(),
  staleScheduleError: fc.boolean(),
  missingParameter: fc.boolean(),
  deprecated: fc.boolean(),
  autoscaling: fc.constantFrom(null, 'scheduled_target + 1', 'claims_60m / misses_60m'),
});
type PresetSpec = typeof presetSpec extends fc.Arbitrary<infer T> ? T : never;

/** Builds one preset in the state `spec` describes and returns its id. */
async function materialize(spec: PresetSpec): Promise<string> {
  const pool = env.db.pool;
  const [p] = await seedPresets(pool, [{ instances: spec.running }]);
  const presetId = p!.presetId;
  if (spec.running > 0) {
    await reconcilePreset(env.deps(), presetId);
    await completePendingBuilds(pool, { presetId });
  }
  const target = { presetId, organizationId: p!.organizationId, templateId: p!.templateId, templateVersionId: p!.versionId };
  for (let i = 0; i < spec.failures; i++) await withTransaction(pool, (c) => insertFailedPrebuild(c, target, {}, `boom ${i}`));
  await pool.query(
    `UPDATE presets SET instances = $2, schedules = CASE WHEN $3 THEN '{"not":"a list"}'::jsonb ELSE schedules END,
       schedule_error = CASE WHEN $4 THEN 'an old problem' END, autoscaling = $5::jsonb WHERE id = $1`,
    [presetId, spec.instances, spec.badSchedules, spec.staleScheduleError, spec.autoscaling && JSON.stringify({ expression: spec.autoscaling })],
  );
  if (spec.missingParameter) await pool.query(`UPDATE template_versions SET parameters = '[{"name":"region","required":true}]' WHERE id = $1`, [p!.versionId]);
  if (spec.deprecated) await pool.query('UPDATE templates SET deprecated = true WHERE id = $1', [p!.templateId]);
  return presetId;
}

/** Everything a reconcile writes for a preset, without ids and instants (two copies must compare equal). */
async function written(presetId: string): Promise<unknown> {
  const pool = env.db.pool;
  const builds = await pool.query(
    `SELECT b.transition, b.job_status, b.reason, b.parameters, count(*)::int AS n FROM builds b JOIN workspaces w ON w.id = b.workspace_id
     WHERE w.preset_id = $1 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4::text`,
    [presetId],
  );
  const preset = await pool.query('SELECT status, status_reason, schedule_error, autoscaling_error FROM presets WHERE id = $1', [presetId]);
  const outbox = await pool.query(
    `SELECT queue, name, priority, count(*)::int AS n FROM outbox WHERE payload->>'presetId' = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    [presetId],
  );
  const waiting = await pool.query('SELECT level, wanted FROM prebuild_demand WHERE preset_id = $1', [presetId]);
  return { builds: builds.rows, preset: preset.rows, outbox: outbox.rows, waiting: waiting.rows };
}

test('any presets reconciled as one batch write the same rows as the same presets reconciled one by one', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(presetSpec, { minLength: 1, maxLength: 6 }), async (specs) => {
      const batched: string[] = [];
      const single: string[] = [];
      for (const spec of specs) {
        batched.push(await materialize(spec));
        single.push(await materialize(spec));
      }
      const now = new Date();
      await reconcilePresets(env.deps(), batched, { now });
      for (const id of single) await reconcilePreset(env.deps(), id, { now });
      for (const [i, spec] of specs.entries()) assert.deepEqual(await written(batched[i]!), await written(single[i]!), JSON.stringify(spec));
      await completePendingBuilds(env.db.pool); // frees the in-flight slots for the next run
    }),
    { numRuns: 15 },
  );
});
