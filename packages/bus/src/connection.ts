import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisTarget, type RedisTarget } from '@warmpool/runtime';

/** A connection to one Redis server or to a Redis Cluster; BullMQ and our own commands accept either. */
export type RedisClient = Redis | Cluster;

// Reconnect forever with a capped delay: a Redis restart or a cluster failover must not kill the service.
const retry = (times: number) => Math.min(200 + times * 200, 2_000);

/**
 * The one way Warmpool opens Redis connections, to a single server or a cluster (`target` as parsed by the
 * configuration, or a REDIS_URL-style string: one URL, or a comma list of cluster seeds). BullMQ workers need
 * `maxRetriesPerRequest: null` (blocking commands must wait through reconnects) and no auto-pipelining.
 */
export function createRedis(target: RedisTarget | string, options: { role?: 'worker' | 'producer'; name?: string } = {}): RedisClient {
  const resolved = typeof target === 'string' ? parseRedisTarget(target) : target;
  const opts: RedisOptions = {
    maxRetriesPerRequest: options.role === 'producer' ? 3 : null,
    enableAutoPipelining: false,
    enableReadyCheck: true,
    retryStrategy: retry,
    ...(options.name ? { connectionName: options.name } : {}),
  };
  if (resolved.mode === 'single') return new Redis(resolved.url, opts);
  const cluster: ClusterOptions = {
    redisOptions: {
      ...opts,
      ...(resolved.username ? { username: resolved.username } : {}),
      ...(resolved.password ? { password: resolved.password } : {}),
      ...(resolved.tls ? { tls: {} } : {}),
    },
    enableReadyCheck: true,
    clusterRetryStrategy: retry,
    // During a failover the slot answers CLUSTERDOWN/TRYAGAIN or refuses connections until a replica is
    // promoted; keep retrying the command (queued offline) rather than failing it at once.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    maxRedirections: 32,
    slotsRefreshTimeout: 2_000,
  };
  return new Cluster(resolved.nodes, cluster);
}
