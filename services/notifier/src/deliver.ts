import { UnrecoverableError, type Job } from 'bullmq';
import { z } from 'zod';
import { loadDelivery, recordDeliveryAttempt, type Pool } from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';
import { parseJob, runAttempt } from './attempt.js';
import { post, safeTarget } from './http-post.js';
import { deliveriesTotal } from './metrics.js';
import { signatureHeaders } from './signing.js';

export type DeliveryDeps = {
  pool: Pool;
  logger: Logger;
  /** Global signing secrets (current first), for organizations without their own. */
  webhookSecrets: string[];
  timeoutMs: number;
  /** Used when a job carries no attempts option. */
  defaultAttempts: number;
};

const DeliveryJob = z.strictObject({ deliveryId: z.uuid() });

/**
 * One attempt of one webhook delivery: a Standard Webhooks signed POST. Success, or failure on the last attempt,
 * is stored on the delivery and its inbox rows; earlier failures throw so BullMQ retries with the backoff.
 */
export async function deliverWebhook(deps: DeliveryDeps, job: Pick<Job, 'id' | 'data' | 'attemptsMade' | 'opts'>): Promise<{ result: string }> {
  const { deliveryId } = parseJob(DeliveryJob, job, deps.logger, 'webhook delivery');
  const log = deps.logger.child({ deliveryId });
  const delivery = await loadDelivery(deps.pool, deliveryId);
  if (!delivery) {
    log.error('webhook delivery not found; job dropped');
    throw new UnrecoverableError(`webhook delivery ${deliveryId} not found`);
  }
  if (delivery.status !== 'pending') return { result: `already ${delivery.status}` }; // redelivered job
  const secrets = delivery.organizationSecrets.length > 0 ? delivery.organizationSecrets : deps.webhookSecrets;
  if (!delivery.url || secrets.length === 0) {
    const reason = delivery.url ? 'no webhook secret configured' : 'no webhook URL configured';
    await recordDeliveryAttempt(deps.pool, deliveryId, { status: 'skipped', attempts: 0, error: reason });
    deliveriesTotal.inc({ channel: 'webhook', result: 'skipped' });
    log.warn({ reason }, 'webhook delivery skipped');
    return { result: 'skipped' };
  }
  const url = delivery.url;
  const body = JSON.stringify(delivery.payload);
  return runAttempt({
    channel: 'webhook',
    attempt: job.attemptsMade + 1,
    maxAttempts: job.opts.attempts ?? deps.defaultAttempts,
    log,
    target: safeTarget(url),
    // webhook-id is the delivery id: the same on every retry, so receivers deduplicate on it.
    perform: () => post(url, body, { 'content-type': 'application/json', 'user-agent': 'warmpool-notifier', ...signatureHeaders(secrets, deliveryId, body) }, deps.timeoutMs),
    record: (outcome) => recordDeliveryAttempt(deps.pool, deliveryId, outcome),
  });
}
