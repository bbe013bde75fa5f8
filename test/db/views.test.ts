import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isExpired, presetStatus } from '@warmpool/core';
import {
  bumpPresetCounter,
  insertPrebuilds,
  isPaused,
  listActivePresetIds,
  loadPoolRows,
  loadPresetSnapshot,
  presetsNeedingAttention,
  setPaused,
  withTransaction,
} from '@warmpool/db';

import { useTestDatabase } from '../support/env.js';
import { prebuildTarget, seedPresets, seedVersion } from '../support/seed.js';
import { completePendingBuilds } from '../support/fake-provisioner.js';

// The shared SQL definitions of migration 006 (prebuild_expired, running_prebuilds, reconciliation_paused,
// bump_preset_counter) against the rules the pure core applies to the same rows.

const db = useTestDatabase();

const SETTINGS = { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3 };

test('SQL prebuild_expired and core isExpired agree at the TTL and invalidation boundaries', async () => {
  const created = new Date('2026-03-01T10:00:00.000Z');
  const cases: { ttl: number | null; atMs: number; invalidatedAt: Date | null }[] = [];
  for (const ttl of [null, 0, 60]) {
    for (const offset of [-1, 0, 1]) {
      for (const invalidatedAt of [null, new Date(created.getTime() - 1), created, new Date(created.getTime() + 1)]) {
        cases.push({ ttl, atMs: created.getTime() + (ttl ?? 60) * 1000 + offset, invalidatedAt });
      }
    }
  }
  const { rows } = await db.pool.query<{ i: number; expired: boolean }>(
    `SELECT i, prebuild_expired($1::timestamptz, ttl, inv, at) AS expired
     FROM unnest($2::int[], $3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY AS c(ttl, inv, at, i)`,
    [created, cases.map((c) => c.ttl), cases.map((c) => c.invalidatedAt), cases.map((c) => new Date(c.atMs))],
  );
  for (const row of rows) {
    const c = cases[row.i - 1]!;
    const invalidated = c.invalidatedAt !== null && created.getTime() <= c.invalidatedAt.getTime();
    const core = isExpired({ id: 'x', createdAt: created, ready: true, invalidated }, c.ttl, new Date(c.atMs));
    assert.equal(row.expired, core, `ttl=${c.ttl} at=${new Date(c.atMs).toISOString()} invalidated_at=${c.invalidatedAt?.toISOString()}`);
  }
  assert.equal(rows.length, cases.length);
});

test('eligible is one number everywhere: pool rows (metrics, demo) equal the status the API and CLI report', async () => {
  const [withTtl, noTtl] = await seedPresets(db.pool, [{ name: 'ttl', instances: 4, ttlSeconds: 3600 }, { name: 'forever', instances: 2, ttlSeconds: null }]);
  for (const p of [withTtl!, noTtl!]) {
    await withTransaction(db.pool, (c) => insertPrebuilds(c, prebuildTarget(p), p === withTtl ? 4 : 2, {}));
  }
  await completePendingBuilds(db.pool);
  const running = (await loadPresetSnapshot(db.pool, withTtl!.presetId))!.running;
  // One past its TTL, one with an agent not ready: 2 of the 4 are claimable.
  await db.pool.query(`UPDATE workspaces SET created_at = now() - interval '2 hours' WHERE id = $1`, [running[0]!.id]);
  await db.pool.query(`UPDATE agents SET ready = false WHERE build_id IN (SELECT build_id FROM prebuild_workspaces WHERE id = $1)`, [running[1]!.id]);

  const pools = new Map((await loadPoolRows(db.pool)).map((r) => [r.preset_id, r]));
  for (const p of [withTtl!, noTtl!]) {
    const status = presetStatus((await loadPresetSnapshot(db.pool, p.presetId))!, new Date(), SETTINGS);
    const row = pools.get(p.presetId)!;
    assert.equal(row.eligible, status.eligible, `eligible of ${status.preset}`);
    assert.equal(row.running, status.running, `running of ${status.preset}`);
  }
  assert.equal(pools.get(withTtl!.presetId)!.eligible, 2);
  assert.equal(pools.get(noTtl!.presetId)!.eligible, 2, 'no TTL: nothing expires (the NULL ttl case)');
});

test('the pause flag and the preset counters have one helper each', async () => {
  assert.equal(await isPaused(db.pool), false);
  await setPaused(db.pool, true);
  assert.equal(await isPaused(db.pool), true);
  const [p] = await seedPresets(db.pool, [{ instances: 0 }]);
  assert.equal((await loadPresetSnapshot(db.pool, p!.presetId))!.paused, true, 'the snapshot reads the same flag');
  await setPaused(db.pool, false);
  assert.equal(await isPaused(db.pool), false);

  await withTransaction(db.pool, async (c) => {
    await bumpPresetCounter(c, p!.presetId, 'claimed');
    await bumpPresetCounter(c, p!.presetId, 'claimed', 2);
    await bumpPresetCounter(c, null, 'claimed');
  });
  const row = (await loadPoolRows(db.pool)).find((r) => r.preset_id === p!.presetId)!;
  assert.equal(row.claimed, 3);
});

test('claims of one preset on different connections do not wait for each other on the claim counter (migration 016)', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 0 }]);
  // Two connections whose backends fall on different shards (pid % 16); a third is kept aside if one collides.
  const clients = [await db.pool.connect(), await db.pool.connect(), await db.pool.connect()];
  try {
    const shards = await Promise.all(clients.map(async (c) => (await c.query<{ s: number }>('SELECT pg_backend_pid() % 16 AS s')).rows[0]!.s));
    const first = clients[0]!;
    const second = clients[shards[1] !== shards[0] ? 1 : 2]!;
    assert.notEqual(shards[clients.indexOf(second)], shards[0], 'two backends on different shards');
    await first.query('BEGIN');
    await bumpPresetCounter(first, p!.presetId, 'claimed');
    await bumpPresetCounter(first, p!.presetId, 'failed');
    await second.query('BEGIN');
    await second.query(`SET LOCAL lock_timeout = '2s'`); // a wait on the first's row lock would fail here
    await bumpPresetCounter(second, p!.presetId, 'claimed');
    await second.query('COMMIT');
    await first.query('COMMIT');
    await bumpPresetCounter(second, p!.presetId, 'failed');
  } finally {
    for (const c of clients) c.release();
  }
  const row = (await loadPoolRows(db.pool)).find((r) => r.preset_id === p!.presetId)!;
  assert.deepEqual([row.claimed, row.failed], [2, 2], 'readers sum the shards');
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM preset_counters WHERE preset_id = $1 AND name = 'failed'`, [p!.presetId]);
  assert.equal(rows[0]!.n, 1, 'counters off the request path keep one row');
});

test('"active" is one rule: the preset list, the tick, the pool rows and core (isActivePreset, via the status) agree', async () => {
  const [active, deprecated, deleted, replaced] = await Promise.all([1, 2, 3, 4].map(async () => (await seedPresets(db.pool, [{ instances: 0 }]))[0]!));
  await db.pool.query('UPDATE templates SET deprecated = true WHERE id = $1', [deprecated!.templateId]);
  await db.pool.query('UPDATE templates SET deleted = true WHERE id = $1', [deleted!.templateId]);
  await seedVersion(db.pool, replaced!.templateId, [{ instances: 0 }]);
  const ours = [active, deprecated, deleted, replaced].map((p) => p!.presetId);
  const core = await Promise.all(ours.map(async (id) => presetStatus((await loadPresetSnapshot(db.pool, id))!, new Date(), SETTINGS).active));
  assert.deepEqual(core, [true, false, false, false]);
  const listed = new Set(await listActivePresetIds(db.pool));
  assert.deepEqual(ours.map((id) => listed.has(id)), core, 'listActivePresetIds (status of the API and CLI)');
  const attended = new Set(await presetsNeedingAttention(db.pool));
  assert.deepEqual(ours.map((id) => attended.has(id)), core, 'the tick (none has prebuilds to drain)');
  const pool = new Map((await loadPoolRows(db.pool)).map((r) => [r.preset_id, r.active]));
  assert.deepEqual(ours.map((id) => pool.get(id)), core, 'pool rows (metrics)');
});
