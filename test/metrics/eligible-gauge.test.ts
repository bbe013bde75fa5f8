import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { SYSTEM_USER_ID } from '@warmpool/db';
import { createLogger } from '@warmpool/runtime';
import { registerPoolMetrics } from '@warmpool/operations';
import { client, seedEligiblePrebuild, startTestApi, userWithRole } from '../support/api.js';
import { seedOrganization, seedTemplate, seedVersion } from '../support/seed.js';

/**
 * warmpool_prebuilt_workspaces_eligible must equal the status route's `eligible` for every kind of preset: with and
 * without TTL, invalidated or not, with ready and unready agents, before and after a claim.
 */

let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;
let owner: { userId: string; token: string };
let orgId: string;
let templateId: string;
let versionId: string;
const presets: Record<string, string> = {};
let metrics: ReturnType<typeof registerPoolMetrics>;
const registry = new Registry();

before(async () => {
  env = await startTestApi();
  call = client(env.api.url);
  owner = await userWithRole(env.db.pool, 'owner', null);
  orgId = await seedOrganization(env.db.pool, 'gauge-org');
  templateId = await seedTemplate(env.db.pool, orgId, 'gauge-tpl');
  const seeded = await seedVersion(env.db.pool, templateId, [
    { name: 'no-ttl', instances: 3 },
    { name: 'ttl', instances: 3, ttlSeconds: 3600 },
    { name: 'invalidated', instances: 3 },
  ]);
  versionId = seeded.versionId;
  [presets['no-ttl'], presets.ttl, presets.invalidated] = seeded.presetIds as [string, string, string];
  metrics = registerPoolMetrics(registry, env.db.pool, createLogger('test', { level: 'silent' }), 60_000);
});
after(async () => env.stop());

async function prebuild(presetId: string, options: { ageSeconds?: number; ready?: boolean } = {}): Promise<string> {
  const id = await seedEligiblePrebuild(env.db.pool, { presetId, organizationId: orgId, templateId, versionId });
  if (options.ageSeconds) await env.db.pool.query(`UPDATE workspaces SET created_at = now() - make_interval(secs => $2) WHERE id = $1`, [id, options.ageSeconds]);
  if (options.ready === false) {
    await env.db.pool.query(`UPDATE agents SET ready = false, ready_at = NULL WHERE build_id IN (SELECT id FROM builds WHERE workspace_id = $1)`, [id]);
  }
  return id;
}

async function gaugeByPreset(): Promise<Record<string, number>> {
  await metrics.refresh();
  const metric = await registry.getSingleMetric('warmpool_prebuilt_workspaces_eligible')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.preset_name), v.value]));
}

async function statusByPreset(): Promise<Record<string, number>> {
  const entries = await Promise.all(
    Object.entries(presets).map(async ([name, id]) => {
      const res = await call('GET', `/api/v1/presets/${id}/status`, { token: owner.token });
      assert.equal(res.status, 200);
      return [name, res.body.eligible as number] as const;
    }),
  );
  return Object.fromEntries(entries);
}

test('the eligible gauge equals the status route for presets with and without TTL, invalidated or not', async () => {
  await prebuild(presets['no-ttl']!);
  await prebuild(presets['no-ttl']!);
  await prebuild(presets['no-ttl']!, { ready: false });
  await prebuild(presets.ttl!);
  await prebuild(presets.ttl!, { ageSeconds: 7200 }); // past its TTL
  await prebuild(presets.invalidated!, { ageSeconds: 60 });
  await env.db.pool.query('UPDATE presets SET invalidated_at = now() WHERE id = $1', [presets.invalidated]);
  await prebuild(presets.invalidated!); // created after the invalidation: still eligible
  await prebuild(presets.invalidated!, { ready: false });

  const expected = { 'no-ttl': 2, ttl: 1, invalidated: 1 };
  assert.deepEqual(await statusByPreset(), expected);
  assert.deepEqual(await gaugeByPreset(), expected);
});

test('after a claim the gauge and the status route both drop by one', async () => {
  const member = await userWithRole(env.db.pool, 'member', orgId);
  const res = await call('POST', '/api/v1/organizations/gauge-org/workspaces', {
    token: member.token,
    body: { template_id: templateId, name: 'claimed-one', preset_id: presets['no-ttl'] },
  });
  assert.equal(res.status, 201);
  assert.equal(res.body.claimed, true);
  const { rows } = await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM workspaces WHERE preset_id = $1 AND owner_id = $2', [presets['no-ttl'], SYSTEM_USER_ID]);
  assert.equal(rows[0]!.n, 2, 'one prebuild left the pool');
  const expected = { 'no-ttl': 1, ttl: 1, invalidated: 1 };
  assert.deepEqual(await statusByPreset(), expected);
  assert.deepEqual(await gaugeByPreset(), expected);
});
