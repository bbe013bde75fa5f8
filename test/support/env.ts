import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createPool, migrate, type Pool } from '@warmpool/db';

/** Server URLs for tests; CI and developers use the local servers by default. */
export const ADMIN_DATABASE_URL = process.env.WARMPOOL_TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.WARMPOOL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueName(kind: string): string {
  return `wp_${kind}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export type TestDatabase = { url: string; pool: Pool; drop: () => Promise<void> };

/** A fresh, migrated database of its own for one test file; `drop()` removes it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName('test');
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 20, applicationName: 'warmpool-test' });
  await migrate(pool);
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end();
      const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A queue prefix of its own for one test file; `cleanup()` deletes every key under it. */
export async function createTestQueuePrefix(): Promise<{ prefix: string; cleanup: () => Promise<void> }> {
  const prefix = uniqueName('q');
  return {
    prefix,
    cleanup: async () => {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await redis.unlink(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}
