import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';

/**
 * The failover scenario's Redis Cluster: scripts/redis-cluster.sh (3 masters + 3 replicas) on ports of its own
 * (base CHAOS_CLUSTER_BASE_PORT, 7110), so it never meets the cluster CI's test rerun starts on 7100.
 */
export class ChaosCluster {
  private readonly env: NodeJS.ProcessEnv;
  constructor(readonly basePort: number) {
    this.env = { ...process.env, REDIS_CLUSTER_BASE_PORT: String(basePort) };
  }
  private script(...args: string[]): string {
    const res = spawnSync('bash', ['scripts/redis-cluster.sh', ...args], { env: this.env, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`redis-cluster.sh ${args.join(' ')} failed: ${res.stderr}`);
    return res.stdout.trim();
  }
  get url(): string {
    return Array.from({ length: 6 }, (_, i) => `127.0.0.1:${this.basePort + i}`).join(',');
  }
  start(): void {
    this.script('start');
  }
  stop(): void {
    this.script('stop');
  }
  startNode(port: number): void {
    this.script('start-node', String(port));
  }

  private async onNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await fn(redis);
    } finally {
      redis.disconnect();
    }
  }

  /** The master serving `key`'s slot (as a surviving node sees it), with its process id and its replicas' ports. */
  async masterOf(key: string, askPort?: number): Promise<{ port: number; pid: number; replicas: number[] }> {
    const ports = Array.from({ length: 6 }, (_, i) => this.basePort + i);
    for (const port of askPort === undefined ? ports : [askPort]) {
      const found = await this.onNode(port, async (r) => {
        const slot = Number(await r.cluster('KEYSLOT', key));
        const range = (await r.cluster('SLOTS')).find(([from, to]) => from <= slot && slot <= to);
        const [master, ...replicas] = range ? range.slice(2).map((n) => (n as unknown as [string, number])[1]) : [];
        if (master === undefined) return undefined;
        const pid = await this.onNode(master, async (m) => Number(/process_id:(\d+)/.exec(await m.info('server'))?.[1]));
        return { port: master, pid, replicas };
      }).catch(() => undefined);
      if (found) return found;
    }
    throw new Error(`no node answers for the slot of ${key}`);
  }

  /** Replication offsets of a master and its replicas, so the run can say whether the replica was caught up. */
  async replicationOffsets(port: number): Promise<{ master: number; replicas: number[] }> {
    return this.onNode(port, async (r) => {
      const info = await r.info('replication');
      const master = Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? 0);
      const replicas = [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].map((m) => Number(m[1]));
      return { master, replicas };
    });
  }
}
