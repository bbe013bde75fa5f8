import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { client, startTestApi, userWithRole } from '../support/api.js';
import { seedOrganization } from '../support/seed.js';

// The staged-rollout routes over HTTP (BEHAVIOUR.md §4.7, §7): start, read progress, promote, cancel, and every
// refusal a 4xx that names the field and changes nothing.
let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;
let token: string;
const manifest = JSON.parse(readFileSync('examples/web-app.json', 'utf8')) as Record<string, unknown>;

before(async () => {
  env = await startTestApi();
  call = client(env.api.url);
  const org = await seedOrganization(env.db.pool, 'rollout-org');
  token = (await userWithRole(env.db.pool, 'template-admin', org)).token;
});
after(async () => env.stop());

async function newTemplate(): Promise<string> {
  const res = await call('POST', '/api/v1/organizations/rollout-org/templates', { token, body: { name: `t${Math.random().toString(36).slice(2, 8)}` } });
  assert.equal(res.status, 201);
  return res.body.id as string;
}

const state = async (templateId: string) =>
  (
    await env.db.pool.query(
      `SELECT t.active_version_id AS active, (SELECT count(*)::int FROM template_versions WHERE template_id = t.id) AS versions,
              (SELECT json_agg(state ORDER BY started_at) FROM template_rollouts WHERE template_id = t.id) AS rollouts
       FROM templates t WHERE t.id = $1`,
      [templateId],
    )
  ).rows[0];

test('an import with activate=staged starts a rollout whose progress names every preset; promote and cancel end it', async () => {
  const templateId = await newTemplate();
  const v1 = await call('POST', `/api/v1/templates/${templateId}/versions?activate=true`, { token, body: { ...manifest, name: 'v1' } });
  assert.equal(v1.status, 201);
  const v2 = await call('POST', `/api/v1/templates/${templateId}/versions?activate=staged&surge=2&deadline_seconds=600`, { token, body: { ...manifest, name: 'v2' } });
  assert.equal(v2.status, 201, JSON.stringify(v2.body));
  assert.equal(v2.body.active, false);
  const rollout = v2.body.rollout as Record<string, unknown>;
  assert.deepEqual([rollout.state, rollout.surge, rollout.surge_builds, rollout.version_name, rollout.previous_version_id], ['staged', '2', 2, 'v2', v1.body.version_id]);
  const deadline = Date.parse(rollout.deadline_at as string) - Date.parse(rollout.started_at as string);
  assert.ok(Math.abs(deadline - 600_000) < 2000, `deadline ${deadline} ms after the start`);

  const progress = await call('GET', `/api/v1/templates/${templateId}/rollouts/${rollout.id as string}`, { token });
  assert.equal(progress.status, 200);
  assert.equal(progress.body.decision, 'wait');
  const presets = progress.body.presets as { name: string; eligible: number; threshold: number; warm: boolean }[];
  assert.deepEqual(presets.map((p) => p.name).sort(), (manifest.presets as { name: string }[]).map((p) => p.name).sort());
  assert.ok(presets.every((p) => p.eligible === 0 && p.warm === (p.threshold === 0)));
  // The organization's pools show the staged presets beside the active ones (the console's overview reads this).
  const pools = (await call('GET', '/api/v1/organizations/rollout-org/presets', { token })).body as unknown as { version: string; staged: boolean; active: boolean; rolloutDeadline: string | null }[];
  const stagedPools = pools.filter((p) => p.version === 'v2');
  assert.ok(stagedPools.length > 0 && stagedPools.every((p) => p.staged && !p.active && p.rolloutDeadline === rollout.deadline_at));
  assert.ok(pools.filter((p) => p.version === 'v1').every((p) => p.active && !p.staged));
  const list = await call('GET', `/api/v1/templates/${templateId}/rollouts`, { token });
  assert.deepEqual((list.body as unknown as { id: string }[]).map((r) => r.id), [rollout.id]);

  const promoted = await call('POST', `/api/v1/templates/${templateId}/rollouts/${rollout.id as string}/promote`, { token });
  assert.equal(promoted.status, 200);
  assert.equal(promoted.body.state, 'promoted');
  assert.equal((await state(templateId)).active, v2.body.version_id);

  // Staging the previous version back, then canceling: the active version stays.
  const again = await call('POST', `/api/v1/templates/${templateId}/rollouts`, { token, body: { version_id: v1.body.version_id, surge: '50%' } });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  const canceled = await call('POST', `/api/v1/templates/${templateId}/rollouts/${again.body.id as string}/cancel`, { token });
  assert.equal(canceled.body.state, 'canceled');
  assert.equal((await state(templateId)).active, v2.body.version_id);
});

test('bad rollout input answers 4xx naming the field, and nothing changes', async () => {
  const templateId = await newTemplate();
  const v1 = await call('POST', `/api/v1/templates/${templateId}/versions?activate=true`, { token, body: { ...manifest, name: 'v1' } });
  const before = await state(templateId);
  const refused: [string, string, unknown, number, string][] = [
    ['POST', `/api/v1/templates/${templateId}/versions?activate=staged&surge=0`, { ...manifest, name: 'x' }, 400, 'querystring.surge'],
    ['POST', `/api/v1/templates/${templateId}/versions?activate=staged&surge=150%25`, { ...manifest, name: 'x' }, 400, 'querystring.surge'],
    ['POST', `/api/v1/templates/${templateId}/versions?activate=staged&deadline_seconds=5`, { ...manifest, name: 'x' }, 400, 'querystring.deadline_seconds'],
    ['POST', `/api/v1/templates/${templateId}/versions?activate=true&surge=2`, { ...manifest, name: 'x' }, 400, 'querystring.surge'],
    ['POST', `/api/v1/templates/${templateId}/versions?activate=staged`, { ...manifest, name: 'x', presets: [{ name: 'p', prebuilds: { instances: -1 } }] }, 400, 'presets[0].prebuilds.instances'],
    ['POST', `/api/v1/templates/${templateId}/rollouts`, { version_id: v1.body.version_id }, 409, ''],
    ['POST', `/api/v1/templates/${templateId}/rollouts`, { version_id: '99999999-9999-4999-8999-999999999999' }, 400, 'body.version_id'],
    ['POST', `/api/v1/templates/${templateId}/rollouts`, { version_id: v1.body.version_id, deadline_seconds: 100_000 }, 400, 'body.deadline_seconds'],
  ];
  for (const [method, path, body, status, field] of refused) {
    const res = await call(method, path, { token, body });
    assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
    if (field) assert.ok(res.body.details?.some((d) => d.path === field), `${path}: names ${field}: ${JSON.stringify(res.body.details)}`);
  }
  assert.deepEqual(await state(templateId), before);

  const v2 = await call('POST', `/api/v1/templates/${templateId}/versions?activate=staged`, { token, body: { ...manifest, name: 'v2' } });
  const rolloutId = (v2.body.rollout as { id: string }).id;
  const during = await state(templateId);
  assert.equal((await call('POST', `/api/v1/templates/${templateId}/versions?activate=staged`, { token, body: { ...manifest, name: 'v3' } })).status, 409, 'a second rollout');
  assert.equal((await call('POST', `/api/v1/templates/${templateId}/versions/${v2.body.version_id as string}/activate`, { token })).status, 409, 'immediate activation during a rollout');
  assert.deepEqual(await state(templateId), during);
  assert.equal((await call('POST', `/api/v1/templates/${templateId}/rollouts/${rolloutId}/cancel`, { token })).status, 200);
  const promote = await call('POST', `/api/v1/templates/${templateId}/rollouts/${rolloutId}/promote`, { token });
  assert.equal(promote.status, 409, 'promoting a canceled rollout');
  assert.match(promote.body.message as string, /canceled/);
  assert.equal((await state(templateId)).active, v1.body.version_id);
  assert.equal((await call('GET', `/api/v1/templates/${templateId}/rollouts/99999999-9999-4999-8999-999999999999`, { token })).status, 404);
});
