import type { QueueKey } from '@warmpool/contracts';

/**
 * Queue prefix wrapped in a Redis Cluster hash tag so every key of every queue lands in one slot.
 * Tests and benchmarks pass their own prefix so runs never see each other's jobs.
 */
export function queuePrefix(name = 'warmpool'): string {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) throw new Error(`invalid queue prefix ${JSON.stringify(name)}`);
  return `{${name}}`;
}

/**
 * Lock and stall timing of each queue's workers. A job's lock is renewed every lockDuration / 2 while it runs,
 * so a long job keeps its lock however long it takes; only a dead (SIGKILL) or frozen (SIGSTOP, an event loop
 * blocked for lockDuration) worker loses it. Its jobs return to waiting at the next stalled check after the lock
 * expired: within lockDuration + stalledInterval (BullMQ's defaults, 30 s + 30 s, left presets waiting a minute).
 * A false stall (a frozen but live worker) runs a job twice, which every Warmpool handler tolerates: reconciles
 * re-plan under the preset lock, results and notifications are idempotent by build id or event key, a build
 * request redelivered keeps its job id. maxStalledCount 2: a job is failed only if it stalls three times.
 */
export const WORKER_TIMING: Record<QueueKey, { lockDuration: number; stalledInterval: number; maxStalledCount: number }> = {
  // Short jobs (a batch of reconciles, one result): back within ~4 s of a worker's death. A renewal every 1.5 s
  // tolerates an event loop stalled for up to ~1.5 s (GC, CPU starvation) before a false stall.
  reconcile: { lockDuration: 3_000, stalledInterval: 1_000, maxStalledCount: 2 },
  buildResults: { lockDuration: 3_000, stalledInterval: 1_000, maxStalledCount: 2 },
  // A tick over 10,000 presets takes seconds, but renews its lock meanwhile; one tick late costs little.
  schedulerTick: { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 2 },
  // Provisioners hold a build for its whole duration (renewing); a dead one's builds come back within ~7 s.
  buildRequests: { lockDuration: 5_000, stalledInterval: 2_000, maxStalledCount: 2 },
  // Webhook posts wait up to WARMPOOL_WEBHOOK_TIMEOUT_MS (5 s by default) while renewing.
  notifications: { lockDuration: 5_000, stalledInterval: 2_000, maxStalledCount: 2 },
  webhookDeliveries: { lockDuration: 5_000, stalledInterval: 2_000, maxStalledCount: 2 },
};
