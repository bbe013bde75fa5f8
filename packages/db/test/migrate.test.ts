import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migrate, SYSTEM_USER_ID } from '@warmpool/db';
import { createTestDatabase } from '../../../test/support/env.js';

test('migrations apply once, concurrently safe, and seed the system user', async () => {
  const db = await createTestDatabase();
  try {
    // createTestDatabase already migrated; concurrent re-runs must wait on the lock and apply nothing.
    const results = await Promise.all([migrate(db.pool), migrate(db.pool), migrate(db.pool)]);
    assert.deepEqual(results, [[], [], []]);
    const { rows } = await db.pool.query('SELECT username, is_system FROM users WHERE id = $1', [SYSTEM_USER_ID]);
    assert.deepEqual(rows, [{ username: 'prebuilds', is_system: true }]);
  } finally {
    await db.drop();
  }
});
