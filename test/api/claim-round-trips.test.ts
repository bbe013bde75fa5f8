import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, type Api } from '@warmpool/api';
import { createLogger } from '@warmpool/runtime';
import { SYSTEM_USER_ID } from '@warmpool/db';
import { client, seedEligiblePrebuild, userWithRole } from '../support/api.js';
import { createTestDatabase, createTestQueuePrefix, type TestDatabase } from '../support/env.js';
import { countingPool, testConfig } from '../support/pipeline.js';
import { seedPresets } from '../support/seed.js';

// Issue 14: a claim through the API costs 1 PostgreSQL round trip once the replica's caches are warm (the claim
// statement; principal, organization and the template's target come from WARMPOOL_API_CACHE_MS caches). Cold, it is
// 3: the principal (which also records the token's last_used_at), the organization by name with the template's
// target, the claim; that happens once per cache period per token and organization. Background statements are not
// the request's and are left out: the outbox relay's flush (they name the outbox) and the pool-metrics refresh (the
// pool rows, the pause flag).

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let api: Api;
let counting: ReturnType<typeof countingPool>;
before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  counting = countingPool(db.pool);
  api = await startApi({ config: testConfig(db.url, prefix.prefix, { WARMPOOL_API_CACHE_MS: '60000' }), logger: createLogger('test', { level: 'silent' }), pool: counting.pool, port: 0 });
});
after(async () => {
  await api.close();
  await prefix.cleanup();
  await db.drop();
});

const requestPath = () => counting.statements().filter((s) => !/outbox|reconciliation_paused\(\)|t.id AS template_id, o.name AS organization_name|^\s*(BEGIN|COMMIT|ROLLBACK)\b/i.test(s));

test('a claim costs 1 round trip with warm caches (3 with cold ones)', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 2 }]);
  await seedEligiblePrebuild(db.pool, p!);
  await seedEligiblePrebuild(db.pool, p!);
  const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM organizations WHERE id = $1', [p!.organizationId]);
  const { token } = await userWithRole(db.pool, 'member', p!.organizationId);
  const call = client(api.url);
  const claim = (name: string) => call('POST', `/api/v1/organizations/${rows[0]!.name}/workspaces`, { token, body: { template_id: p!.templateId, preset_id: p!.presetId, name } });

  counting.reset();
  const cold = await claim('cold');
  assert.deepEqual([cold.status, cold.body.claimed], [201, true]);
  const coldTrips = requestPath();
  assert.ok(coldTrips.length <= 3, `cold: ${coldTrips.length} round trips: ${coldTrips.map((s) => s.slice(0, 60)).join(' | ')}`);
  assert.equal(coldTrips.filter((s) => /api_tokens/.test(s)).length, 1, 'the principal and last_used_at: one statement');
  assert.equal(coldTrips.filter((s) => /organizations/.test(s)).length, 1, 'the organization and the template: one statement');
  assert.match(coldTrips.at(-1)!, /claim_prebuild/);

  counting.reset();
  const warm = await claim('warm');
  assert.deepEqual([warm.status, warm.body.claimed], [201, true]);
  const warmTrips = requestPath();
  assert.equal(warmTrips.length, 1, `warm: ${warmTrips.map((s) => s.slice(0, 60)).join(' | ')}`);
  assert.match(warmTrips[0]!, /claim_prebuild/);
});

test('on cold caches the one-statement lookup still answers 404 for an invisible organization or a foreign template', async () => {
  const [mine] = await seedPresets(db.pool, [{ instances: 1 }]);
  const [theirs] = await seedPresets(db.pool, [{ instances: 1 }]);
  await seedEligiblePrebuild(db.pool, theirs!);
  const orgName = async (id: string) => (await db.pool.query<{ name: string }>('SELECT name FROM organizations WHERE id = $1', [id])).rows[0]!.name;
  const { token } = await userWithRole(db.pool, 'member', mine!.organizationId);
  const call = client(api.url);
  const create = (org: string, templateId: string, presetId: string) =>
    call('POST', `/api/v1/organizations/${org}/workspaces`, { token, body: { template_id: templateId, preset_id: presetId, name: 'nope' } });

  const invisible = await create(await orgName(theirs!.organizationId), theirs!.templateId, theirs!.presetId);
  assert.deepEqual([invisible.status, invisible.body.error], [404, 'not_found']);
  const foreignTemplate = await create(await orgName(mine!.organizationId), theirs!.templateId, theirs!.presetId);
  assert.deepEqual([foreignTemplate.status, foreignTemplate.body.error], [404, 'not_found']);
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM workspaces WHERE preset_id = $1 AND owner_id <> $2', [theirs!.presetId, SYSTEM_USER_ID]);
  assert.equal(rows[0]!.n, 0, 'nothing claimed from the other organization');
});
