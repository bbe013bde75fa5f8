import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILD_PRIORITY, BuildRequested } from '@warmpool/contracts';
import { buildRequestedMessage, claimPrebuild, ensureUser, insertPrebuilds, withTransaction } from '@warmpool/db';
import { useTestDatabase } from '../support/env.js';
import { prebuildTarget, seedPresets } from '../support/seed.js';
import { completePendingBuilds } from '../support/fake-provisioner.js';

// claim_prebuild (current definition: packages/db/migrations/README.md) writes the claim build's build-requested event in SQL, so the claim stays one
// statement; every other producer uses buildRequestedMessage. This holds the two writers to one event shape.

const db = useTestDatabase();

test("a claim's outbox message is the one buildRequestedMessage builds for the same build, and parses with the contract", async () => {
  const parameters = { region: 'eu-west', size: 'large' };
  const [p] = await seedPresets(db.pool, [{ name: 'claimable', instances: 1, parameters }]);
  await withTransaction(db.pool, (c) => insertPrebuilds(c, prebuildTarget(p!), 1, parameters));
  await completePendingBuilds(db.pool);
  const userId = (await ensureUser(db.pool, 'claimer'))!;

  const claim = await claimPrebuild(db.pool, { presetId: p!.presetId, userId, name: 'mine', priority: BUILD_PRIORITY.human, templateId: p!.templateId, versionId: p!.versionId });
  assert.equal(claim.outcome, 'claimed');
  if (claim.outcome !== 'claimed') return;

  const { rows } = await db.pool.query<{ queue: string; name: string; payload: unknown; idempotency_key: string; priority: number }>(
    `SELECT o.queue, o.name, o.payload, o.idempotency_key, o.priority FROM outbox o WHERE o.payload->>'buildId' = $1`,
    [claim.buildId],
  );
  assert.equal(rows.length, 1, 'one event for the claim build');
  const expected = buildRequestedMessage(
    { buildId: claim.buildId, workspaceId: claim.workspaceId, transition: 'start', templateVersionId: p!.versionId, presetId: p!.presetId, parameters, reason: 'claim' },
    BUILD_PRIORITY.human,
  );
  const row = rows[0]!;
  assert.deepEqual(
    { queue: row.queue, name: row.name, payload: row.payload, idempotencyKey: row.idempotency_key, priority: row.priority },
    { queue: expected.queue, name: expected.name, payload: expected.payload, idempotencyKey: expected.idempotencyKey, priority: expected.priority },
  );
  assert.deepEqual(BuildRequested.parse(row.payload), expected.payload, 'the stored payload passes the strict schema unchanged');
});
