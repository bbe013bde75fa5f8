import { Worker, type Processor, type WorkerOptions } from 'bullmq';
import { workerLiveness, type Logger, type RedisTarget } from '@warmpool/runtime';
import { createRedis, type RedisClient } from './connection.js';
import { createQueueSet, type QueueSet } from './queue-set.js';
import { queuePrefix } from './queues.js';

/**
 * The Redis side every worker service shares: a producer connection and its queue set, workers each on a connection
 * of its own (BullMQ blocks a worker's connection), their errors logged, their liveness, and one close that undoes it
 * all in the one safe order — stop what feeds work, let active jobs finish, drain, then queues and connections.
 */
export type ServiceWiring = {
  producer: RedisClient;
  queues: QueueSet;
  /** A worker on its own connection under the queue prefix; its `error` events are logged with the queue's name. */
  worker: (queue: string, processor: Processor, options: Omit<WorkerOptions, 'connection' | 'prefix'>) => Worker;
  /** Liveness of every worker so far, their connections and the producer (plus `progressing` when given). */
  liveness: (progressing?: () => Promise<boolean>) => () => Promise<boolean>;
  /** For health details: `ready` when every worker connection is, else the first other status (e.g. `reconnecting`). */
  redisStatus: () => string;
  /** Run first on close, in order: timers, watchers, the health server (what feeds new work or answers probes). */
  beforeWorkers: (stop: () => unknown) => void;
  /** Run after the workers have finished their active jobs, in order, before queues and connections close. */
  afterWorkers: (drain: () => Promise<unknown>) => void;
  /** Idempotent. */
  close: () => Promise<void>;
};

export function wireService(options: { name: string; redis: RedisTarget | string; queuePrefix: string; logger: Logger }): ServiceWiring {
  const { name, logger } = options;
  const producer = createRedis(options.redis, { role: 'producer', name: `${name}-producer` });
  const queues = createQueueSet(producer, options.queuePrefix);
  const workers: Worker[] = [];
  const connections: RedisClient[] = [];
  const stops: (() => unknown)[] = [];
  const drains: (() => Promise<unknown>)[] = [];

  const worker: ServiceWiring['worker'] = (queue, processor, workerOptions) => {
    const connection = createRedis(options.redis, { role: 'worker', name: `${name}-${queue}` });
    connections.push(connection);
    const created = new Worker(queue, processor, { ...workerOptions, connection, prefix: queuePrefix(options.queuePrefix) });
    created.on('error', (err) => logger.error({ err, queue }, 'worker error'));
    workers.push(created);
    return created;
  };

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      for (const stop of stops) await stop();
      await Promise.all(workers.map((w) => w.close())); // active jobs finish
      for (const drain of drains) await drain();
      await queues.close();
      await Promise.all([producer, ...connections].map((c) => c.quit().catch(() => undefined)));
    })());

  return {
    producer,
    queues,
    worker,
    redisStatus: () => connections.find((c) => c.status !== 'ready')?.status ?? 'ready',
    liveness: (progressing) => workerLiveness({ workers, connections, producer, ...(progressing ? { progressing } : {}) }),
    beforeWorkers: (stop) => void stops.push(stop),
    afterWorkers: (drain) => void drains.push(drain),
    close,
  };
}
