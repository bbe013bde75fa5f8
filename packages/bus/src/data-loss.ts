import type { RedisClient } from './connection.js';
import { queuePrefix } from './queues.js';

/**
 * Notices that Redis lost its data (a restart without persistence, a failover to a replica that had not caught up):
 * a marker key written at start is gone. What the queues held is then gone too (build requests, armed wake-ups), and
 * waiting for the age-based republisher would leave pools short for WARMPOOL_REPUBLISH_PENDING_AFTER_MS. One EXISTS
 * per interval; `onLoss` runs once per loss (again at the next check if it failed). While Redis is away the checks
 * fail quietly (the next check after the reconnect decides); any other failure, such as a republish that cannot
 * reach PostgreSQL, goes to `onError` at every check until it succeeds. `stop()` resolves once a check in progress
 * has ended, so the caller may close the pool and queues after it.
 */
export function watchDataLoss(
  redis: RedisClient,
  prefix: string,
  role: string,
  onLoss: () => Promise<void>,
  options: { intervalMs?: number; onError: (err: unknown) => void },
): { stop: () => Promise<void> } {
  // One marker per role (reconciler, scheduler): each role repairs its own part; replicas of a role share one.
  const key = `${queuePrefix(prefix)}:data-marker:${role}`;
  let running: Promise<void> | undefined;
  // Also on the first check: a marker missing at start is a fresh Redis or a loss that a starting replica must not
  // hide from the others by writing the marker first; the republish is then a no-op or exactly what is needed.
  const check = async () => {
    if ((await redis.exists(key)) === 1) return;
    // Marked again only once onLoss succeeded, so a failed republish is retried at the next check. Several watchers
    // may each run it: the callbacks are idempotent republishes.
    await onLoss();
    await redis.set(key, String(Date.now()));
  };
  const run = () => {
    running ??= check()
      .catch((err: unknown) => {
        if (redis.status === 'ready') options.onError(err);
      })
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(run, options.intervalMs ?? 1_000);
  timer.unref();
  run();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
