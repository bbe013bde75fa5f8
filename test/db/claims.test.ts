import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { claimPrebuild, WorkspaceNameTakenError } from '@warmpool/db';
import { createTestDatabase, type TestDatabase } from '../support/env.js';
import { seedEligiblePrebuild, userWithRole } from '../support/api.js';
import { seedPresets } from '../support/seed.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

test('a claim under a name the user already has refuses before locking a prebuild (migration 018)', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  const prebuild = await seedEligiblePrebuild(db.pool, p!);
  const { userId } = await userWithRole(db.pool, 'member', p!.organizationId);
  await db.pool.query(
    `INSERT INTO workspaces (organization_id, template_id, template_version_id, owner_id, name) VALUES ($1, $2, $3, $4, 'taken')`,
    [p!.organizationId, p!.templateId, p!.versionId, userId],
  );
  const xmax = async () => (await db.pool.query<{ xmax: string }>('SELECT xmax::text AS xmax FROM workspaces WHERE id = $1', [prebuild])).rows[0]!.xmax;
  const before = await xmax(); // the seed's foreign-key checks left a share lock's transaction id there
  await assert.rejects(
    claimPrebuild(db.pool, { presetId: p!.presetId, userId, name: 'taken', priority: 1, templateId: p!.templateId, versionId: p!.versionId }),
    WorkspaceNameTakenError,
  );
  // A row lock leaves the locker's transaction id in the row's xmax, even once that transaction aborted: the refused
  // claim's may not be there. (Locked, the prebuild would stay locked until the backend finished aborting, which happens after the
  // client has seen the error: a claim retried at once could skip it, SKIP LOCKED, and get a fresh workspace.)
  assert.equal(await xmax(), before, 'the refused claim never locked the prebuild');
  const claimed = await claimPrebuild(db.pool, { presetId: p!.presetId, userId, name: 'other', priority: 1, templateId: p!.templateId, versionId: p!.versionId });
  assert.deepEqual([claimed.outcome, claimed.outcome === 'claimed' ? claimed.workspaceId : null], ['claimed', prebuild]);
});
