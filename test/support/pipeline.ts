import { after, before } from 'node:test';
import { createQueueSet, createRedis, type QueueSet } from '@warmpool/bus';
import type { Pool, PoolClient } from '@warmpool/db';
import { OutboxRelay, type ReconcileDeps, type ReconcileSettings } from '@warmpool/operations';
import { createLogger, loadConfig, type Config } from '@warmpool/runtime';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from './env.js';

/** A Config for in-process services of one test file (its own database and queue prefix). */
export function testConfig(databaseUrl: string, queuePrefix: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    WARMPOOL_QUEUE_PREFIX: queuePrefix,
    WARMPOOL_WORKER_CONCURRENCY: '4',
    LOG_LEVEL: 'silent',
    ...overrides,
  });
}

/**
 * Wraps a pool so every SQL round trip (pool.query and queries on checked-out clients) is counted and its text
 * kept; used to assert how many statements a reconcile or a claim costs.
 */
export function countingPool(pool: Pool): { pool: Pool; count: () => number; statements: () => string[]; reset: () => void } {
  let texts: string[] = [];
  const counted = (target: { query: unknown }) => (...args: unknown[]) => {
    texts.push(typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: unknown } | undefined)?.text));
    return (target.query as (...a: unknown[]) => unknown).apply(target, args);
  };
  const wrapClient = (client: PoolClient): PoolClient =>
    new Proxy(client, {
      get(target, prop, receiver) {
        if (prop === 'query') return counted(target);
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  const proxy = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query') return counted(target);
      if (prop === 'connect') return async () => wrapClient(await target.connect());
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { pool: proxy, count: () => texts.length, statements: () => [...texts], reset: () => (texts = []) };
}

export type ReconcileEnv = {
  db: TestDatabase;
  queues: QueueSet;
  relay: OutboxRelay;
  /** Reconcile dependencies with the file's settings, overridden per call; `pool` defaults to the file's pool. */
  deps: (settings?: Partial<ReconcileSettings>, pool?: Pool) => ReconcileDeps;
};

/** Registers before/after hooks giving a test file its own database, queue prefix and reconcile dependencies. */
export function useReconcileEnv(settings: ReconcileSettings): ReconcileEnv {
  const redis = createRedis(REDIS_URL, { role: 'producer' });
  const logger = createLogger('test', { level: process.env.TEST_LOG ?? 'silent' });
  let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
  const env = {
    deps: (overrides: Partial<ReconcileSettings> = {}, pool?: Pool): ReconcileDeps => ({
      pool: pool ?? env.db.pool,
      queues: env.queues,
      relay: env.relay,
      logger,
      settings: { ...settings, ...overrides },
    }),
  } as ReconcileEnv;
  before(async () => {
    env.db = await createTestDatabase();
    prefix = await createTestQueuePrefix();
    env.queues = createQueueSet(redis, prefix.prefix);
    env.relay = new OutboxRelay(env.db.pool, env.queues, logger);
  });
  after(async () => {
    await env.queues.close();
    await redis.quit();
    await prefix.cleanup();
    await env.db.drop();
  });
  return env;
}
