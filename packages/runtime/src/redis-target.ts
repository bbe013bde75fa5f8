/**
 * Where Redis is: one server (a redis:// URL) or a Redis Cluster (seed nodes; the client discovers the rest).
 * Parsed once from the environment so every service and BullMQ connect the same way.
 */
export type RedisNode = { host: string; port: number };
export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'cluster'; nodes: RedisNode[]; username?: string; password?: string; tls: boolean };

export class RedisTargetError extends Error {
  override name = 'RedisTargetError';
}

/** One seed: `host:port`, `[v6]:port` or `redis[s]://[user[:password]@]host:port` (no database: a cluster has only 0). */
function parseSeed(entry: string, index: number): { node: RedisNode; url: URL } {
  const where = `entry ${index + 1} ${JSON.stringify(entry.replace(/\/\/[^@/]*@/, '//***@'))}`;
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(entry) ? entry : `redis://${entry}`);
  } catch {
    throw new RedisTargetError(`${where} must be host:port or a redis:// URL`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new RedisTargetError(`${where} must use redis:// or rediss://`);
  if (!url.hostname || !url.port) throw new RedisTargetError(`${where} must name a host and a port`);
  if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') throw new RedisTargetError(`${where}: Redis Cluster has only database 0`);
  return { node: { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) }, url };
}

/** A cluster from a comma-separated list of seeds; credentials and TLS come from the seeds' URLs and must agree. */
function parseClusterSeeds(list: string): Extract<RedisTarget, { mode: 'cluster' }> {
  const entries = list.split(',').map((s) => s.trim());
  if (entries.some((e) => e === '')) throw new RedisTargetError('empty entry in the list of cluster nodes (host:port,host:port,…)');
  const seeds = entries.map(parseSeed);
  const schemes = new Set(seeds.map((s) => s.url.protocol));
  if (schemes.size > 1) throw new RedisTargetError('cluster nodes mix redis:// and rediss://');
  const withCredentials = seeds.find((s) => s.url.username || s.url.password);
  return {
    mode: 'cluster',
    nodes: seeds.map((s) => s.node),
    tls: schemes.has('rediss:'),
    ...(withCredentials?.url.username ? { username: decodeURIComponent(withCredentials.url.username) } : {}),
    ...(withCredentials?.url.password ? { password: decodeURIComponent(withCredentials.url.password) } : {}),
  };
}

/**
 * `REDIS_URL` is one redis:// URL (a single server) or a comma-separated list of seeds (a cluster);
 * `REDIS_CLUSTER_NODES` is always a cluster, even with one seed. Setting both is refused as ambiguous.
 */
export function parseRedisTarget(redisUrl: string | undefined, clusterNodes?: string): RedisTarget {
  if (clusterNodes !== undefined) {
    if (redisUrl !== undefined) throw new RedisTargetError('set REDIS_URL or REDIS_CLUSTER_NODES, not both');
    return parseClusterSeeds(clusterNodes);
  }
  const value = redisUrl ?? 'redis://127.0.0.1:6379';
  if (value.includes(',')) return parseClusterSeeds(value);
  if (!/^rediss?:\/\/./.test(value)) throw new RedisTargetError('must be a redis:// URL, or a comma-separated list of cluster nodes');
  return { mode: 'single', url: value };
}
