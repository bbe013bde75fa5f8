import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { seedOrganization, seedTemplate, seedVersion } from '../support/seed.js';
import { client, startTestApi, userWithRole } from '../support/api.js';

// The per-replica claim-target cache is ON here (the default WARMPOOL_API_CACHE_MS): a template retired or given a new
// active version — by this replica or by another one — must never let a create through on what the cache remembers.

let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;
let orgId: string;
let admin: { userId: string; token: string };
let n = 0;

before(async () => {
  env = await startTestApi({ WARMPOOL_API_CACHE_MS: '60000' });
  call = client(env.api.url);
  orgId = await seedOrganization(env.db.pool, 'org-cache');
  admin = await userWithRole(env.db.pool, 'template-admin', orgId);
});
after(async () => env.stop());

/** A template with an active version without presets, so every create takes the fresh (unclaimed) path. */
async function template(): Promise<{ templateId: string; versionId: string }> {
  const templateId = await seedTemplate(env.db.pool, orgId);
  const { versionId } = await seedVersion(env.db.pool, templateId, []);
  return { templateId, versionId };
}
const create = (templateId: string) =>
  call('POST', '/api/v1/organizations/org-cache/workspaces', { token: admin.token, body: { template_id: templateId, name: `ws-${++n}` } });
const workspaceCount = async (templateId: string) =>
  (await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM workspaces WHERE template_id = $1', [templateId])).rows[0]!.n;

test('deprecating a template through this replica refuses the next create (409), with the cache warm', async () => {
  const { templateId } = await template();
  assert.equal((await create(templateId)).status, 201);
  assert.equal((await call('POST', `/api/v1/templates/${templateId}/deprecate`, { token: admin.token })).status, 200);
  const refused = await create(templateId);
  assert.deepEqual([refused.status, refused.body.error], [409, 'template_deprecated']);
  assert.equal(await workspaceCount(templateId), 1);
});

test('deleting a template through this replica answers 404 to the next create, with the cache warm', async () => {
  const { templateId } = await template();
  assert.equal((await create(templateId)).status, 201);
  assert.equal((await call('DELETE', `/api/v1/templates/${templateId}`, { token: admin.token })).status, 204);
  assert.equal((await create(templateId)).status, 404);
  assert.equal(await workspaceCount(templateId), 1);
});

test('a template deprecated or deleted elsewhere (another replica: the cache here is not told) refuses the fresh create', async () => {
  const deprecated = await template();
  assert.equal((await create(deprecated.templateId)).status, 201);
  await env.db.pool.query('UPDATE templates SET deprecated = true WHERE id = $1', [deprecated.templateId]);
  const refused = await create(deprecated.templateId);
  assert.deepEqual([refused.status, refused.body.error], [409, 'template_deprecated']);
  assert.equal(await workspaceCount(deprecated.templateId), 1);

  const deleted = await template();
  assert.equal((await create(deleted.templateId)).status, 201);
  await env.db.pool.query('UPDATE templates SET deleted = true WHERE id = $1', [deleted.templateId]);
  assert.equal((await create(deleted.templateId)).status, 404);
  assert.equal(await workspaceCount(deleted.templateId), 1);
});

test('a new active version is used by the next create: activated here, or elsewhere', async () => {
  const { templateId } = await template();
  assert.equal((await create(templateId)).status, 201);
  const { versionId: v2 } = await seedVersion(env.db.pool, templateId, [], { activate: false });
  assert.equal((await call('POST', `/api/v1/templates/${templateId}/versions/${v2}/activate`, { token: admin.token })).status, 200);
  const onV2 = await create(templateId);
  assert.equal(onV2.status, 201);
  assert.equal((onV2.body.workspace as { template_version_id: string }).template_version_id, v2);

  // Activated by another replica: this one's cache still holds v2.
  const { versionId: v3 } = await seedVersion(env.db.pool, templateId, [], { activate: false });
  await env.db.pool.query('UPDATE templates SET active_version_id = $2 WHERE id = $1', [templateId, v3]);
  const onV3 = await create(templateId);
  assert.equal(onV3.status, 201);
  assert.equal((onV3.body.workspace as { template_version_id: string }).template_version_id, v3);
  const builds = await env.db.pool.query<{ template_version_id: string }>(
    `SELECT b.template_version_id FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE w.id = $1`,
    [(onV3.body.workspace as { id: string }).id],
  );
  assert.deepEqual(builds.rows.map((r) => r.template_version_id), [v3]);
});
