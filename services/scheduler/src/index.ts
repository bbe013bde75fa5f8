import type { Server } from 'node:http';
import type { Worker } from 'bullmq';
import { armWakeUps, enqueueReconciles, QUEUES, WORKER_TIMING, watchDataLoss, wireService, withJobSpan, type QueueSet, type RedisClient } from '@warmpool/bus';
import { presetsNeedingAttention, type Pool } from '@warmpool/db';
import { poolHistoryRecorder, screenPresets } from '@warmpool/operations';
import { createRegistry, evaluationSettings, registerQueueMetrics, serveHealth, watchWorkerProgress, type Config, type Logger } from '@warmpool/runtime';

export type SchedulerOptions = {
  config: Config;
  logger: Logger;
  /** The caller owns the pool (main sizes it with `SCHEDULER_POOL_SIZE`) and ends it after `close()`. */
  pool: Pool;
  healthPort?: number;
};

export type Scheduler = {
  worker: Worker;
  healthServer: Server | undefined;
  isHealthy: () => Promise<boolean>;
  /** Runs one tick's work now (also what the tick job does); returns how many presets were enqueued. */
  tick: () => Promise<number>;
  close: () => Promise<void>;
};

const TICK_SCHEDULER_ID = 'tick';
const ENQUEUE_CHUNK = 500;
const UPSERT_GUARD_MS = 30_000;
/** One tick at a time per process: a screening query and a spare. */
export const SCHEDULER_POOL_SIZE = 2;

/**
 * Upserts the cluster-wide tick from one replica only: concurrent upserts have misbehaved (BEHAVIOUR.md §10), so a
 * short-lived Redis NX key elects the upserter, and it only writes when the interval actually changed.
 */
export async function ensureTickScheduler(queues: QueueSet, redis: RedisClient, intervalMs: number, logger: Logger): Promise<boolean> {
  const existing = await queues.schedulerTick.getJobScheduler(TICK_SCHEDULER_ID);
  if (existing && Number(existing.every) === intervalMs) return false;
  const won = await redis.set(`${queues.prefix}:scheduler-upsert`, String(process.pid), 'PX', UPSERT_GUARD_MS, 'NX');
  if (won !== 'OK') return false;
  await queues.schedulerTick.upsertJobScheduler(TICK_SCHEDULER_ID, { every: intervalMs }, { name: 'tick', data: {} });
  logger.info({ intervalMs }, 'tick scheduler upserted');
  return true;
}

/**
 * The periodic safety net: one tick cluster-wide per interval screens the presets needing attention in chunks (one
 * snapshot query each) and enqueues a (deduplicated) reconcile for those with something to write. Exact timers (schedule boundaries, TTL expiry, backoff end) are armed by the
 * reconciler, which has each preset's snapshot at hand; a lost timer costs at most one interval.
 */
export async function startScheduler(options: SchedulerOptions): Promise<Scheduler> {
  const { config, logger, pool } = options;
  const wiring = wireService({ name: 'scheduler', redis: config.redis, queuePrefix: config.queuePrefix, logger });
  const { producer, queues } = wiring;

  const settings = evaluationSettings(config);
  // Each tick screens presets in batches (one snapshot query per batch) and enqueues reconciles only for those with
  // work; timers due before the next-but-one tick are (re-)armed, so a lost wake-up costs at most one interval.
  const tick = async () => {
    const ids = await presetsNeedingAttention(pool);
    const now = new Date();
    const horizon = now.getTime() + 2 * config.reconcileIntervalMs;
    let enqueued = 0;
    for (let i = 0; i < ids.length; i += ENQUEUE_CHUNK) {
      const screening = await screenPresets(pool, ids.slice(i, i + ENQUEUE_CHUNK), now, settings);
      if (screening.paused) break;
      await enqueueReconciles(queues.reconcile, screening.toReconcile, 'tick');
      await armWakeUps(queues.reconcile, screening.wakeUps.filter((w) => w.at.getTime() <= horizon), 'timer', now.getTime());
      enqueued += screening.toReconcile.length;
    }
    logger.debug({ presets: ids.length, enqueued }, 'tick');
    return enqueued;
  };

  // The console's pool history is sampled here, by the one process that always runs on a clock, not by the api.
  const history = poolHistoryRecorder(pool);
  const recordHistory = () => history.record().catch((err: unknown) => logger.warn({ err }, 'pool history sample failed'));
  // Each tick is a trace of its own: the reconciles it enqueues are its children.
  const worker = wiring.worker(
    QUEUES.schedulerTick,
    (job) =>
      withJobSpan(job, 'scheduler tick', {}, async (span) => {
        const enqueued = await tick();
        span.setAttribute('warmpool.tick.enqueued', enqueued);
        await recordHistory();
        return { enqueued };
      }),
    { concurrency: 1, ...WORKER_TIMING.schedulerTick },
  );
  worker.on('failed', (job, err) => logger.warn({ queue: QUEUES.schedulerTick, jobId: job?.id, err }, 'tick failed'));
  await ensureTickScheduler(queues, producer, config.reconcileIntervalMs, logger);
  // Re-check now and then: heals a scheduler removed from Redis, or an elected upserter that died before writing.
  const recheck = setInterval(() => {
    ensureTickScheduler(queues, producer, config.reconcileIntervalMs, logger).catch((err: unknown) => logger.warn({ err }, 'tick scheduler check failed'));
  }, UPSERT_GUARD_MS);
  recheck.unref();
  wiring.beforeWorkers(() => clearInterval(recheck));
  // After Redis lost its data the tick's job scheduler, the queued reconciles and the armed timers are gone:
  // re-create the scheduler and tick at once rather than at the next re-check.
  const dataLoss = watchDataLoss(producer, config.queuePrefix, 'scheduler', async () => {
    await ensureTickScheduler(queues, producer, config.reconcileIntervalMs, logger);
    const enqueued = await tick();
    logger.warn({ enqueued }, 'Redis lost its data: tick scheduler re-created, presets re-screened');
  }, { onError: (err) => logger.warn({ err }, 'repair after Redis lost its data failed; retried in a second') });
  wiring.beforeWorkers(() => dataLoss.stop());

  const registry = createRegistry('scheduler');
  registerQueueMetrics(registry, queues);
  const isHealthy = wiring.liveness(watchWorkerProgress(worker, queues.schedulerTick, Math.max(60_000, 4 * config.reconcileIntervalMs)));
  const health = await serveHealth(options.healthPort, config.httpHost, async () => ({ ok: await isHealthy(), details: { worker: worker.isRunning(), redis: wiring.redisStatus() } }), logger, registry);
  wiring.beforeWorkers(() => health.close());
  return { worker, healthServer: health.server, isHealthy, tick, close: wiring.close };
}
