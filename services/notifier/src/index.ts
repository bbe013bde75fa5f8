import type { Server } from 'node:http';
import type { Job, Worker } from 'bullmq';
import { QUEUES, WORKER_TIMING, wireService, withJobSpan, type QueueSet, type ServiceWiring } from '@warmpool/bus';
import type { Pool } from '@warmpool/db';
import type { Config, Logger } from '@warmpool/runtime';
import { webhookBackoffMs } from './retry-delay.js';
import { deliverWebhook } from './deliver.js';
import { handleNotificationEvent } from './events.js';
import { createMailer, type SendMail } from './mailer.js';
import { deliveriesTotal } from './metrics.js';
import { performSend } from './send.js';
import { createRegistry, serveHealth } from '@warmpool/runtime';

export { renderMessage, describeReplacements, eventKey, presetStatusUrl, workspaceUrl } from './messages.js';
export { sign, signatureHeaders, signingKey, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from './signing.js';
export { webhookBackoffMs } from './retry-delay.js';
export { dailyDedupKey } from './dedup.js';
export { notifierRegistry, deliveriesTotal, deliveryCount, type DeliveryResult } from './metrics.js';
export { handleNotificationEvent, deliveryJobId, type WebhookPayload, type EventOutcome } from './events.js';
export { deliverWebhook } from './deliver.js';
export { performSend, sendJobId } from './send.js';
export { renderEmail, renderChat, type EmailContent } from './formats.js';
export { createMailer, checkSmtp, type Mail, type SendMail } from './mailer.js';

/** Slow receivers must not hold up others: at least this many deliveries run at once (BEHAVIOUR.md §9). */
const MIN_DELIVERY_CONCURRENCY = 10;
const deliveryConcurrency = (config: Config) => Math.max(MIN_DELIVERY_CONCURRENCY, config.workerConcurrency);

/** Connections: one per event worker slot, one per webhook and per send slot, and two spare. */
export const notifierPoolSize = (config: Config): number => config.workerConcurrency + 2 * deliveryConcurrency(config) + 2;

export type NotifierOptions = {
  config: Config;
  logger: Logger;
  /** The caller owns the pool (main sizes it with `notifierPoolSize`) and ends it after `close()`. */
  pool: Pool;
  /** Serve GET /healthz and GET /metrics on this port (0 = any free port). */
  healthPort?: number;
  /** First retry delay of webhook deliveries (default 1 s, doubling per attempt, with jitter). */
  backoffBaseMs?: number;
  /** Upper bound of one retry delay (default 10 min). */
  backoffMaxMs?: number;
  /** Clock for the per-UTC-day deduplication (tests). */
  now?: () => Date;
  /** Replaces the SMTP mailer built from `config.smtp` (tests). */
  sendMail?: SendMail;
};

export type Notifier = {
  eventsWorker: Worker;
  deliveryWorker: Worker;
  sendWorker: Worker;
  healthServer: Server | undefined;
  isHealthy: () => Promise<boolean>;
  close: () => Promise<void>;
};

type WorkerSetup = { options: NotifierOptions; queues: QueueSet; worker: ServiceWiring['worker'] };

/** Notification events → inbox rows and one webhook delivery / send job per recipient and channel. */
function startEventsWorker({ options, queues, worker: createWorker }: WorkerSetup): Worker {
  const { config, pool } = options;
  const log = options.logger.child({ queue: QUEUES.notifications });
  const deps = {
    pool,
    deliveries: queues.webhookDeliveries,
    logger: log,
    publicUrl: config.publicUrl,
    webhookUrl: config.webhookUrl,
    webhookAttempts: config.webhookAttempts,
    sends: queues.notificationSends,
    email: config.smtp !== undefined,
    emailAttempts: config.smtp?.attempts ?? config.webhookAttempts,
    ...(options.now ? { now: options.now } : {}),
  };
  const worker = createWorker(QUEUES.notifications, async (job: Job) => withJobSpan(job, 'notification event', { 'warmpool.notification.type': job.name }, () => handleNotificationEvent(deps, job)), {
    concurrency: config.workerConcurrency,
    ...WORKER_TIMING.notifications,
  });
  worker.on('failed', (job, err) => log.warn({ jobId: job?.id, name: job?.name, err: err.message }, 'notification event job failed'));
  return worker;
}

/** Retry delays of deliveries and sends: exponential from `backoffBaseMs`, capped at `backoffMaxMs`, with jitter. */
function retrySettings(options: NotifierOptions) {
  const baseMs = options.backoffBaseMs ?? 1_000;
  const maxMs = options.backoffMaxMs ?? 10 * 60_000;
  return { backoffStrategy: (attemptsMade: number) => webhookBackoffMs(attemptsMade, baseMs, maxMs) };
}

/** Signed webhook POSTs, retried with backoff and dead-lettered after the last attempt. */
function startDeliveryWorker({ options, worker: createWorker }: WorkerSetup): Worker {
  const { config, pool } = options;
  const log = options.logger.child({ queue: QUEUES.webhookDeliveries });
  const deps = { pool, logger: log, webhookSecrets: config.webhookSecrets, timeoutMs: config.webhookTimeoutMs, defaultAttempts: config.webhookAttempts };
  const worker = createWorker(QUEUES.webhookDeliveries, async (job: Job) => withJobSpan(job, 'webhook delivery attempt', { 'warmpool.notification.channel': 'webhook' }, () => deliverWebhook(deps, job)), {
    concurrency: deliveryConcurrency(config),
    ...WORKER_TIMING.webhookDeliveries,
    settings: retrySettings(options),
  });
  return worker;
}

/** E-mails and chat posts: their own worker, so a hanging SMTP server never delays webhooks (nor the reverse). */
function startSendWorker({ options, worker: createWorker }: WorkerSetup): Worker {
  const { config, pool } = options;
  const log = options.logger.child({ queue: QUEUES.notificationSends });
  const deps = {
    pool,
    logger: log,
    sendMail: options.sendMail ?? (config.smtp ? createMailer(config.smtp) : undefined),
    messageIdDomain: new URL(config.publicUrl).hostname,
    chatTimeoutMs: config.webhookTimeoutMs,
    defaultAttempts: config.webhookAttempts,
  };
  const worker = createWorker(QUEUES.notificationSends, async (job: Job) => withJobSpan(job, 'notification send attempt', { 'warmpool.notification.channel': job.name }, () => performSend(deps, job)), {
    concurrency: deliveryConcurrency(config),
    ...WORKER_TIMING.notificationSends,
    settings: retrySettings(options),
  });
  return worker;
}

/**
 * Starts the notifier: a worker on QUEUES.notifications turning events into inbox rows plus one webhook
 * delivery each, and a worker on QUEUES.webhookDeliveries posting them (signed, retried with backoff,
 * dead-lettered after the last attempt). Everything is closed by `close()`.
 */
export async function startNotifier(options: NotifierOptions): Promise<Notifier> {
  const { config, logger } = options;
  const wiring = wireService({ name: 'notifier', redis: config.redis, queuePrefix: config.queuePrefix, logger });
  const setup = { options, queues: wiring.queues, worker: wiring.worker };
  const eventsWorker = startEventsWorker(setup);
  const deliveryWorker = startDeliveryWorker(setup);
  const sendWorker = startSendWorker(setup);

  const isHealthy = wiring.liveness();
  const registry = options.healthPort === undefined ? undefined : createRegistry('notifier');
  registry?.registerMetric(deliveriesTotal);
  const health = await serveHealth(options.healthPort, config.httpHost, async () => ({ ok: await isHealthy(), details: { redis: wiring.redisStatus() } }), logger, registry);
  wiring.beforeWorkers(() => health.close());
  return { eventsWorker, deliveryWorker, sendWorker, healthServer: health.server, isHealthy, close: wiring.close };
}
