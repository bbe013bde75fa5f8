import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { findPrincipalByTokenHash, hashToken, loadClaimTarget, loadOrganizationClaimTarget } from '@warmpool/db';
import { createTestDatabase, type TestDatabase } from '../support/env.js';
import { userWithRole } from '../support/api.js';
import { seedPresets } from '../support/seed.js';

// The lookups of a create on cold API caches (issue 14): each is one statement.

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

const lastUsed = async (token: string) =>
  (await db.pool.query<{ last_used_at: Date | null }>('SELECT last_used_at FROM api_tokens WHERE token_hash = $1', [hashToken(token)])).rows[0]!.last_used_at;

test('the principal lookup records last_used_at in the same statement, at most once a minute', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  const { userId, token } = await userWithRole(db.pool, 'member', p!.organizationId);
  assert.equal(await lastUsed(token), null);

  const principal = await findPrincipalByTokenHash(db.pool, hashToken(token));
  assert.equal(principal?.userId, userId);
  assert.deepEqual(principal?.roles, [{ role: 'member', organizationId: p!.organizationId }]);
  const first = await lastUsed(token);
  assert.ok(first, 'last_used_at set by the lookup');

  // Used 30 s ago: not rewritten. Used 2 minutes ago: refreshed.
  await db.pool.query(`UPDATE api_tokens SET last_used_at = now() - interval '30 seconds' WHERE token_hash = $1`, [hashToken(token)]);
  const recent = await lastUsed(token);
  await findPrincipalByTokenHash(db.pool, hashToken(token));
  assert.deepEqual(await lastUsed(token), recent);
  await db.pool.query(`UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE token_hash = $1`, [hashToken(token)]);
  const old = (await lastUsed(token))!;
  await findPrincipalByTokenHash(db.pool, hashToken(token));
  assert.ok((await lastUsed(token))!.getTime() > old.getTime(), 'a stale last_used_at is refreshed');
});

test('an expired or unknown token has no principal and its last_used_at is left alone', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  const { token } = await userWithRole(db.pool, 'member', p!.organizationId);
  await db.pool.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, [hashToken(token)]);
  assert.equal(await findPrincipalByTokenHash(db.pool, hashToken(token)), undefined);
  assert.equal(await lastUsed(token), null);
  assert.equal(await findPrincipalByTokenHash(db.pool, hashToken('wp_unknown_token_of_test_0000')), undefined);
});

test('organization and claim target in one statement answer as the separate lookups', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  const [other] = await seedPresets(db.pool, [{ instances: 1 }]); // another organization's template
  const orgName = async (id: string) => (await db.pool.query<{ name: string }>('SELECT name FROM organizations WHERE id = $1', [id])).rows[0]!.name;
  const name = await orgName(p!.organizationId);

  const found = await loadOrganizationClaimTarget(db.pool, name, p!.templateId);
  assert.equal(found?.organizationId, p!.organizationId);
  assert.deepEqual(found?.target, await loadClaimTarget(db.pool, p!.organizationId, p!.templateId));
  assert.equal(found?.target?.activeVersionId, p!.versionId);
  assert.deepEqual(found?.target?.presets.map((x) => x.id), [p!.presetId]);

  assert.equal(await loadOrganizationClaimTarget(db.pool, 'no-such-organization', p!.templateId), undefined);
  // Another organization's template, or a deleted one: the organization, no target.
  assert.notEqual(other!.organizationId, p!.organizationId);
  assert.deepEqual(await loadOrganizationClaimTarget(db.pool, name, other!.templateId), { organizationId: p!.organizationId, target: undefined });
  await db.pool.query('UPDATE templates SET deleted = true WHERE id = $1', [p!.templateId]);
  assert.deepEqual(await loadOrganizationClaimTarget(db.pool, name, p!.templateId), { organizationId: p!.organizationId, target: undefined });
});
