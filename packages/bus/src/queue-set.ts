import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import { JOB_NAMES, QUEUES, ReconcileJob, wakeJobId, type QueueKey } from '@warmpool/contracts';
import { queuePrefix } from './queues.js';

const DAY_S = 24 * 3600;

// Completed jobs are kept long enough for job ids to act as idempotency keys (outbox re-publish after a crash).
const DEFAULTS: Record<QueueKey, DefaultJobOptions> = {
  reconcile: { removeOnComplete: true, removeOnFail: { count: 1_000 }, attempts: 3, backoff: { type: 'exponential', delay: 500 } },
  schedulerTick: { removeOnComplete: true, removeOnFail: { count: 100 } },
  buildRequests: { removeOnComplete: { age: DAY_S, count: 100_000 }, removeOnFail: { age: 7 * DAY_S }, attempts: 5, backoff: { type: 'exponential', delay: 1_000 } },
  // Results must outlive a database restart: about 4 minutes of retries before a result is given up (and logged).
  buildResults: { removeOnComplete: { age: DAY_S, count: 100_000 }, removeOnFail: { age: 7 * DAY_S }, attempts: 10, backoff: { type: 'exponential', delay: 500 } },
  notifications: { removeOnComplete: { age: DAY_S, count: 100_000 }, removeOnFail: { age: 7 * DAY_S }, attempts: 5, backoff: { type: 'exponential', delay: 1_000 } },
  webhookDeliveries: { removeOnComplete: { age: DAY_S, count: 100_000 }, removeOnFail: { age: 30 * DAY_S } },
  notificationSends: { removeOnComplete: { age: DAY_S, count: 100_000 }, removeOnFail: { age: 30 * DAY_S } },
};

export type QueueSet = { [K in QueueKey]: Queue } & {
  prefix: string;
  /** Every queue, in QUEUES order. */
  all: readonly Queue[];
  /** The queue of that name (outbox rows name their queue), or undefined. */
  byName: (name: string) => Queue | undefined;
  close: () => Promise<void>;
};

/** Producer handles for every queue, sharing one connection. The caller owns (and closes) `connection`. */
export function createQueueSet(connection: ConnectionOptions, prefixName: string): QueueSet {
  const prefix = queuePrefix(prefixName);
  const entries = (Object.keys(QUEUES) as QueueKey[]).map(
    (key) => [key, new Queue(QUEUES[key], { connection, prefix, defaultJobOptions: DEFAULTS[key] })] as const,
  );
  const queues = Object.fromEntries(entries) as { [K in QueueKey]: Queue };
  const all = entries.map(([, q]) => q);
  const byName = new Map<string, Queue>(all.map((q) => [q.name, q]));
  return {
    ...queues,
    prefix,
    all,
    byName: (name) => byName.get(name),
    close: async () => {
      await Promise.all(entries.map(([, q]) => q.close()));
    },
  };
}

/**
 * Requests a reconcile of one preset. Deduplicated per preset with keepLastIfActive: at most one waiting
 * job, and a trigger that arrives while the preset's job is active yields exactly one more run after it.
 */
export async function enqueueReconcile(queue: Queue, presetId: string, trigger: string): Promise<void> {
  await enqueueReconciles(queue, [presetId], trigger);
}

export async function enqueueReconciles(queue: Queue, presetIds: readonly string[], trigger: string): Promise<void> {
  if (presetIds.length === 0) return;
  await queue.addBulk(
    presetIds.map((presetId) => ({
      name: JOB_NAMES.reconcile,
      data: ReconcileJob.parse({ presetId, trigger }),
      opts: { deduplication: { id: presetId, keepLastIfActive: true } },
    })),
  );
}

/**
 * Arms an exact wake-up (schedule boundary, TTL expiry, backoff end) as a delayed job with a fixed id,
 * so arming the same instant twice is a no-op. When it fires, the reconciler reconciles the preset in place
 * (batched with the jobs running then), without another job.
 */
export async function armWakeUp(queue: Queue, presetId: string, at: Date, trigger: string, now = Date.now()): Promise<void> {
  await armWakeUps(queue, [{ presetId, at }], trigger, now);
}

export async function armWakeUps(queue: Queue, wakeUps: readonly { presetId: string; at: Date }[], trigger: string, now = Date.now()): Promise<void> {
  if (wakeUps.length === 0) return;
  await queue.addBulk(
    wakeUps.map(({ presetId, at }) => ({
      name: JOB_NAMES.wake,
      data: ReconcileJob.parse({ presetId, trigger }),
      opts: {
        jobId: wakeJobId(presetId, at),
        delay: Math.max(0, at.getTime() - now),
        removeOnComplete: true,
        removeOnFail: true,
      },
    })),
  );
}
