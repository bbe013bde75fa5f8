import type { Pool, PoolClient } from '@warmpool/db';
import { loadConfig, type Config } from '@warmpool/runtime';
import { REDIS_URL } from './env.js';

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
 * Wraps a pool so every SQL round trip (pool.query and queries on checked-out clients) is counted; used to
 * assert how many statements a reconcile costs.
 */
export function countingPool(pool: Pool): { pool: Pool; count: () => number; reset: () => void } {
  let n = 0;
  const wrapClient = (client: PoolClient): PoolClient =>
    new Proxy(client, {
      get(target, prop, receiver) {
        if (prop === 'query') return (...args: unknown[]) => (n++, (target.query as (...a: unknown[]) => unknown).apply(target, args));
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  const proxy = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query') return (...args: unknown[]) => (n++, (target.query as (...a: unknown[]) => unknown).apply(target, args));
      if (prop === 'connect') return async () => wrapClient(await target.connect());
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { pool: proxy, count: () => n, reset: () => (n = 0) };
}
