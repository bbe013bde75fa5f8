import { Redis, type RedisOptions } from 'ioredis';

/**
 * The one way Warmpool opens Redis connections. BullMQ workers need `maxRetriesPerRequest: null`
 * (blocking commands must wait through reconnects) and no auto-pipelining.
 */
export function createRedis(url: string, options: { role?: 'worker' | 'producer'; name?: string } = {}): Redis {
  const opts: RedisOptions = {
    maxRetriesPerRequest: options.role === 'producer' ? 3 : null,
    enableAutoPipelining: false,
    enableReadyCheck: true,
    // Reconnect forever with a capped delay: a Redis restart must not kill the service.
    retryStrategy: (times) => Math.min(200 + times * 200, 2_000),
    ...(options.name ? { connectionName: options.name } : {}),
  };
  return new Redis(url, opts);
}
