import type { Server } from 'node:http';
import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import { describeIssues, JOB_NAMES, QUEUES, WORKER_TIMING, ReconcileJob, reconcileTriggerLabel, watchDataLoss, wireService, withJobSpan, type RedisClient } from '@warmpool/bus';
import { pruneDemand, pruneOutbox, requeueStaleBuildRequests, requeueUnrecordedNotificationEvents, type Pool } from '@warmpool/db';
import { createBuildResultsWorker, OutboxRelay, ReconcileBatcher, reconcileStandby } from '@warmpool/operations';
import { createRegistry, evaluationSettings, registerQueueMetrics, registerWorkerMetrics, serveHealth, watchWorkerProgress, type Config, type Logger } from '@warmpool/runtime';

const OUTBOX_RETENTION_MS = 7 * 24 * 3_600_000;

/** One connection per results-consumer slot plus one per reconcile batch in flight (four); relay and timers borrow between. */
export const reconcilerPoolSize = (config: Config): number => config.workerConcurrency + 4;

export type ReconcilerOptions = {
  config: Config;
  logger: Logger;
  /** The caller owns the pool (main sizes it with `reconcilerPoolSize`) and ends it after `close()`. */
  pool: Pool;
  /** Serve GET /healthz on this port (0 = any free port). */
  healthPort?: number;
  relayPollMs?: number;
  /** Liveness fails when reconcile jobs wait and the worker showed no activity for this long (default 60 s). */
  stallMs?: number;
};

export type Reconciler = {
  worker: Worker;
  healthServer: Server | undefined;
  /** Liveness: the workers run, take waiting jobs, and Redis answers. */
  isHealthy: () => Promise<boolean>;
  close: () => Promise<void>;
};

/**
 * Starts the reconcile worker (job 'reconcile' = reconcile one preset; job 'wake' = an armed timer, reconciled in
 * place like a 'reconcile' job) and the outbox relay. Everything is closed by `close()`.
 */
export async function startReconciler(options: ReconcilerOptions): Promise<Reconciler> {
  const { config, logger, pool } = options;
  const wiring = wireService({ name: 'reconciler', redis: config.redis, queuePrefix: config.queuePrefix, logger });
  const { producer, queues } = wiring;
  const relay = new OutboxRelay(pool, queues, logger.child({ component: 'outbox-relay' }), { pollMs: options.relayPollMs ?? 1_000 });
  const settings = { ...evaluationSettings(config), maxInflightPrebuildBuilds: config.maxInflightPrebuildBuilds, capSharing: config.inflightCapSharing };

  const registry = createRegistry('reconciler');
  const metrics = registerWorkerMetrics(registry);
  registerQueueMetrics(registry, queues);

  // Jobs running at the same time are reconciled as batches: one snapshot query and one transaction per batch
  // (plus one per preset another reconciler held). Up to four batches in flight: their round trips overlap (a batch mostly waits on PostgreSQL).
  const batcher = new ReconcileBatcher({ pool, queues, relay, logger, settings }, { maxBatch: config.reconcileBatchSize, maxConcurrent: 4 });
  // Standby tiers (issue 25): after a preset's pool is reconciled, its eligible prebuilds are split hot/frozen.
  const standby = (presetId: string, desired: number) => reconcileStandby({ pool, relay, logger, queues }, presetId, desired);
  const worker = wiring.worker(QUEUES.reconcile, reconcileProcessor(batcher, standby, metrics, logger), {
    concurrency: Math.max(config.workerConcurrency, 4 * config.reconcileBatchSize),
    ...WORKER_TIMING.reconcile,
  });
  worker.on('completed', () => metrics.jobs.inc({ queue: QUEUES.reconcile, result: 'completed' }));
  worker.on('failed', () => metrics.jobs.inc({ queue: QUEUES.reconcile, result: 'failed' }));
  worker.on('failed', (job, err) => logger.warn({ queue: QUEUES.reconcile, jobId: job?.id, presetId: job?.data?.presetId, err }, 'reconcile job failed'));
  relay.start();
  wiring.beforeWorkers(startHousekeeping(pool, relay, producer, config, logger));
  // Provisioner results are applied here too: each one triggers its preset's reconcile at once.
  createBuildResultsWorker({
    pool,
    queues,
    relay,
    logger,
    onCreation: (type, seconds) => metrics.creationDuration.observe({ type }, seconds),
    onStandby: ({ action, outcome, reason, seconds }) => {
      metrics.standbyResults.inc({ action, outcome });
      if (seconds !== undefined && action === 'thaw') metrics.thawDuration.observe({ reason }, seconds);
    },
    worker: wiring.worker,
    concurrency: config.workerConcurrency,
  });

  const isHealthy = wiring.liveness(watchWorkerProgress(worker, queues.reconcile, options.stallMs));
  const health = await serveHealth(options.healthPort, config.httpHost, async () => ({ ok: await isHealthy(), details: { worker: worker.isRunning(), redis: wiring.redisStatus() } }), logger, registry);
  wiring.beforeWorkers(() => health.close());
  wiring.afterWorkers(async () => {
    await relay.stop();
    await relay.flush().catch(() => undefined); // deliver what the last jobs committed
  });
  return { worker, healthServer: health.server, isHealthy, close: wiring.close };
}

/**
 * The reconcile job handler: validates the payload (malformed ones and unknown job names fail without retries) and
 * reconciles the preset through the batcher, timing it by outcome and trigger.
 */
function reconcileProcessor(
  batcher: ReconcileBatcher,
  standby: (presetId: string, desired: number) => Promise<unknown>,
  metrics: ReturnType<typeof registerWorkerMetrics>,
  logger: Logger,
): (job: Job) => Promise<{ kind: string }> {
  return async (job) => {
    const parsed = ReconcileJob.safeParse(job.data);
    const log = () => logger.child({ queue: QUEUES.reconcile, jobId: job.id, presetId: parsed.success ? parsed.data.presetId : undefined });
    if (!parsed.success) {
      // Retrying a malformed payload can never help.
      log().error({ problem: describeIssues(parsed.error) }, 'malformed reconcile job rejected');
      throw new UnrecoverableError(`malformed reconcile job: ${describeIssues(parsed.error)}`);
    }
    if (job.name !== JOB_NAMES.reconcile && job.name !== JOB_NAMES.wake) {
      log().error({ name: job.name }, 'unknown job name rejected');
      throw new UnrecoverableError(`unknown job name ${JSON.stringify(job.name)}`);
    }
    // A wake-up is reconciled right here (batched with whatever else runs now) rather than through one more job:
    // a schedule boundary across thousands of presets costs one job per preset. Preset row locks keep it exclusive.
    // A wake-up is a schedule boundary: a new trace, linked to the reconcile that armed it.
    const attributes = { 'warmpool.preset.id': parsed.data.presetId, 'warmpool.reconcile.trigger': parsed.data.trigger };
    return withJobSpan(job, 'reconcile preset', attributes, async (span) => {
      const stopTimer = metrics.reconcileDuration.startTimer();
      const outcome = await batcher.reconcile(parsed.data.presetId, parsed.data.trigger);
      stopTimer({ outcome: outcome.kind, trigger: reconcileTriggerLabel(parsed.data.trigger) });
      span.setAttributes({
        'warmpool.reconcile.outcome': outcome.kind,
        ...(outcome.kind === 'executed' ? { 'warmpool.reconcile.created': outcome.created, 'warmpool.reconcile.deleted': outcome.deleted, 'warmpool.reconcile.failed_requests': outcome.failedRequests, 'warmpool.reconcile.capped': outcome.capped } : {}),
        ...((outcome.kind === 'executed' || outcome.kind === 'noop') && outcome.wakeAt ? { 'warmpool.reconcile.wake_at': outcome.wakeAt.toISOString() } : {}),
      });
      if (outcome.kind === 'noop' || outcome.kind === 'executed') await standby(parsed.data.presetId, outcome.view.plan.state.desired);
      return { kind: outcome.kind };
    }, { linkOnly: job.name === JOB_NAMES.wake });
  };
}

/** Timers any replica may run (their writes are idempotent); returns what stops them. */
function startHousekeeping(pool: Pool, relay: OutboxRelay, producer: RedisClient, config: Config, logger: Logger): () => Promise<void> {
  // Published outbox rows are kept a week for auditing, then pruned.
  const pruner = setInterval(() => {
    pruneOutbox(pool, OUTBOX_RETENTION_MS).catch((err: unknown) => logger.warn({ err }, 'outbox prune failed'));
    // Demand history is kept DEMAND_RETENTION_MS (35 days), enough for the forecast's 4 weeks and 28-day replays.
    pruneDemand(pool).catch((err: unknown) => logger.warn({ err }, 'demand history prune failed'));
  }, 3_600_000);
  pruner.unref();
  // Build requests and notification events lost by Redis (data loss on restart or failover) are published again;
  // duplicates are ignored.
  const republisher = setInterval(() => {
    Promise.all([requeueStaleBuildRequests(pool, config.republishPendingAfterMs), requeueUnrecordedNotificationEvents(pool, config.republishPendingAfterMs)])
      .then(([requests, events]) => {
        if (requests + events === 0) return;
        logger.warn({ requests, events }, 'build requests pending too long or notification events never recorded were published again');
        return relay.flush();
      })
      .catch((err: unknown) => logger.warn({ err }, 'stale build request check failed'));
  }, Math.min(config.republishPendingAfterMs, 30_000));
  republisher.unref();
  // After Redis lost its data, the same republish at once instead of after WARMPOOL_REPUBLISH_PENDING_AFTER_MS.
  const dataLoss = watchDataLoss(producer, config.queuePrefix, 'reconciler', async () => {
    const [requests, events] = await Promise.all([requeueStaleBuildRequests(pool, 0), requeueUnrecordedNotificationEvents(pool, 0)]);
    if (requests + events > 0) logger.warn({ requests, events }, 'Redis lost its data: pending build requests and unrecorded notification events published again');
    await relay.flush();
  }, { onError: (err) => logger.warn({ err }, 'republish after Redis lost its data failed; retried in a second') });
  return async () => {
    clearInterval(pruner);
    clearInterval(republisher);
    await dataLoss.stop();
  };
}
