import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { migrate, SYSTEM_USER_ID } from '@warmpool/db';
import { createTestDatabase } from '../../../test/support/env.js';

const FILES = readdirSync(new URL('../migrations/', import.meta.url)).filter((f) => f.endsWith('.sql')).sort();

test('migrations apply once, concurrently safe, and seed the system user', async () => {
  // A fresh database and three concurrent migrators (three services starting at once): each file is applied by
  // exactly one of them; through PgBouncer (WARMPOOL_TEST_POOLER_URL) too, since the lock is transaction-scoped.
  const db = await createTestDatabase({ migrate: false });
  try {
    const results = await Promise.all([migrate(db.pool), migrate(db.pool), migrate(db.pool)]);
    assert.deepEqual(results.flat().sort(), FILES);
    assert.deepEqual(await Promise.all([migrate(db.pool), migrate(db.pool)]), [[], []]);
    const { rows } = await db.pool.query('SELECT username, is_system FROM users WHERE id = $1', [SYSTEM_USER_ID]);
    assert.deepEqual(rows, [{ username: 'prebuilds', is_system: true }]);
    const locks = await db.pool.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    assert.equal(locks.rows[0]!.n, 0, 'no advisory lock outlives a migration');
  } finally {
    await db.drop();
  }
});
