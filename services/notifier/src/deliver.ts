import { UnrecoverableError, type Job } from 'bullmq';
import { z } from 'zod';
import { describeIssues } from '@warmpool/bus';
import { loadDelivery, recordDeliveryAttempt, type Pool } from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';
import { deliveriesTotal } from './metrics.js';
import { sign } from './signing.js';

export type DeliveryDeps = {
  pool: Pool;
  logger: Logger;
  /** Global signing secret, for organizations without their own. */
  webhookSecret: string | undefined;
  timeoutMs: number;
  /** Used when a job carries no attempts option. */
  defaultAttempts: number;
};

const DeliveryJob = z.strictObject({ deliveryId: z.uuid() });

/** A failure that retrying cannot fix (the receiver refused the request itself). */
class PermanentDeliveryError extends Error {}

// 408 (timeout) and 429 (rate limited) are worth retrying; other 4xx mean the request itself is refused.
const isPermanentStatus = (status: number) => status >= 400 && status < 500 && status !== 408 && status !== 429;

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  let response: Response;
  try {
    // The timeout covers the whole exchange, body included, so a hanging receiver frees the worker slot.
    const signal = AbortSignal.timeout(timeoutMs);
    response = await fetch(url, { method: 'POST', body, headers, signal, redirect: 'manual' });
    await response.arrayBuffer();
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') throw new Error(`timed out after ${timeoutMs} ms`, { cause: err });
    const cause = (err as Error & { cause?: Error }).cause;
    throw new Error(`request failed: ${cause?.message ?? (err as Error).message}`, { cause: err });
  }
  if (response.status >= 200 && response.status < 300) return;
  const error = `receiver answered HTTP ${response.status}`;
  throw isPermanentStatus(response.status) ? new PermanentDeliveryError(error) : new Error(error);
}

/**
 * One attempt of one webhook delivery. Success, or failure on the last attempt, is stored on the delivery
 * and its inbox rows; earlier failures store the attempt count and error and throw so BullMQ retries with
 * the webhook backoff.
 */
export async function deliverWebhook(deps: DeliveryDeps, job: Pick<Job, 'id' | 'data' | 'attemptsMade' | 'opts'>): Promise<{ result: string }> {
  const parsed = DeliveryJob.safeParse(job.data);
  if (!parsed.success) {
    deps.logger.error({ jobId: job.id, problem: describeIssues(parsed.error) }, 'malformed webhook delivery job rejected');
    throw new UnrecoverableError(`malformed webhook delivery job: ${describeIssues(parsed.error)}`);
  }
  const { deliveryId } = parsed.data;
  const log = deps.logger.child({ deliveryId });
  const delivery = await loadDelivery(deps.pool, deliveryId);
  if (!delivery) {
    log.error('webhook delivery not found; job dropped');
    throw new UnrecoverableError(`webhook delivery ${deliveryId} not found`);
  }
  if (delivery.status !== 'pending') return { result: `already ${delivery.status}` }; // redelivered job
  const secret = delivery.organizationSecret ?? deps.webhookSecret;
  if (!delivery.url || !secret) {
    const reason = delivery.url ? 'no webhook secret configured' : 'no webhook URL configured';
    await recordDeliveryAttempt(deps.pool, deliveryId, { status: 'skipped', attempts: 0, error: reason });
    deliveriesTotal.inc({ result: 'skipped' });
    log.warn({ reason }, 'webhook delivery skipped');
    return { result: 'skipped' };
  }

  const attempt = job.attemptsMade + 1;
  const maxAttempts = job.opts.attempts ?? deps.defaultAttempts;
  const body = JSON.stringify(delivery.payload);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'warmpool-notifier',
    'x-warmpool-delivery': deliveryId,
    'x-warmpool-event': delivery.kind,
    'x-warmpool-timestamp': String(timestamp),
    'x-warmpool-signature': sign(secret, timestamp, body),
  };
  try {
    await post(delivery.url, body, headers, deps.timeoutMs);
  } catch (err) {
    const error = (err as Error).message;
    const final = attempt >= maxAttempts || err instanceof PermanentDeliveryError;
    await recordDeliveryAttempt(deps.pool, deliveryId, { status: final ? 'dead_letter' : 'pending', attempts: attempt, error });
    deliveriesTotal.inc({ result: final ? 'dead_letter' : 'retry' });
    // The URL is logged without its query string: receivers sometimes put tokens there.
    const target = safeTarget(delivery.url);
    if (final) {
      log.error({ attempt, target, error }, 'webhook delivery dead-lettered');
      throw new UnrecoverableError(`webhook delivery dead-lettered after ${attempt} attempt(s): ${error}`);
    }
    log.warn({ attempt, maxAttempts, target, error }, 'webhook delivery failed; will retry');
    throw new Error(error, { cause: err });
  }
  await recordDeliveryAttempt(deps.pool, deliveryId, { status: 'delivered', attempts: attempt, error: null });
  deliveriesTotal.inc({ result: 'delivered' });
  log.info({ attempt }, 'webhook delivered');
  return { result: 'delivered' };
}

function safeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
