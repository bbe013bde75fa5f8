import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { Cluster, type Redis } from 'ioredis';
import { createQueueSet, createRedis, type QueueSet, type RedisClient } from '@warmpool/bus';
import { createPool, migrate, type Pool } from '@warmpool/db';

/**
 * Server URLs for tests; CI and developers use the local servers by default. WARMPOOL_TEST_REDIS_URL takes what
 * REDIS_URL takes, so a comma list of seeds (`scripts/redis-cluster.sh nodes`) runs the tests on a Redis Cluster.
 */
export const ADMIN_DATABASE_URL = process.env.WARMPOOL_TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.WARMPOOL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * When set (`scripts/pgbouncer.sh url`), test databases are created on the server directly but everything else —
 * migrations, the test's pool, the services it starts — connects through this PgBouncer (transaction pooling).
 */
export const POOLER_URL = process.env.WARMPOOL_TEST_POOLER_URL || undefined;

export function uniqueName(kind: string): string {
  return `wp_${kind}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export type TestDatabase = { url: string; pool: Pool; drop: () => Promise<void> };

/** A fresh, migrated (unless told not to) database of its own for one test file; `drop()` removes it. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = uniqueName('test');
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POOLER_URL ?? ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 20, applicationName: 'warmpool-test' });
  if (options.migrate ?? true) await migrate(pool);
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

/**
 * Registers before/after hooks giving the calling test file its own database (created and migrated before its tests,
 * dropped after them). The returned object is filled in by the `before` hook: use it inside tests and hooks.
 */
export function useTestDatabase(options: { migrate?: boolean } = {}): TestDatabase {
  const db = {} as TestDatabase;
  before(async () => {
    Object.assign(db, await createTestDatabase(options));
  });
  after(async () => {
    await db.drop();
  });
  return db;
}

/**
 * Every key matching `pattern` with the server holding it. SCAN runs per server, so on a cluster each master is
 * scanned (a prefix's keys all sit on one of them: the hash tag puts them in one slot).
 */
export async function scanKeys(client: RedisClient, pattern: string): Promise<{ key: string; server: Redis }[]> {
  await client.ping(); // a cluster client knows its nodes once connected
  const servers: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  const found: { key: string; server: Redis }[] = [];
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) found.push({ key, server });
    } while (cursor !== '0');
  }
  return found;
}

/** A queue prefix of its own for one test file; `cleanup()` deletes every key under it. */
export async function createTestQueuePrefix(): Promise<{ prefix: string; cleanup: () => Promise<void> }> {
  const prefix = uniqueName('q');
  return {
    prefix,
    cleanup: async () => {
      const client = createRedis(REDIS_URL, { role: 'producer' });
      try {
        for (const { key, server } of await scanKeys(client, `{${prefix}}:*`)) await server.unlink(key);
      } finally {
        client.disconnect();
      }
    },
  };
}

export type TestQueues = { prefix: string; redis: RedisClient; queues: QueueSet };

/**
 * A queue prefix of its own for one test file, with a producer connection and the queue set on it, filled in before
 * the file's tests and closed and removed after them.
 */
export function useTestQueues(): TestQueues {
  const harness = {} as TestQueues;
  let cleanup: () => Promise<void>;
  before(async () => {
    const prefix = await createTestQueuePrefix();
    cleanup = prefix.cleanup;
    const redis = createRedis(REDIS_URL, { role: 'producer' });
    Object.assign(harness, { prefix: prefix.prefix, redis, queues: createQueueSet(redis, prefix.prefix) });
  });
  after(async () => {
    await harness.queues.close();
    await harness.redis.quit();
    await cleanup();
  });
  return harness;
}
