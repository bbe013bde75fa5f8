import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { describeIssues, NotificationEvent, traceJobOptions } from '@warmpool/bus';
import { findRecipients, loadNotificationContext, recordNotificationEvent, type NewInboxRow, type PendingSend, type Pool, type RenderedMessage } from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';
import { dailyDedupKey } from './dedup.js';
import { eventKey, renderMessage } from './messages.js';
import { deliveriesTotal } from './metrics.js';
import { sendJobId } from './send.js';

export type EventHandlerDeps = {
  pool: Pool;
  deliveries: Queue;
  logger: Logger;
  publicUrl: string;
  /** Global webhook URL, used for organizations without their own. */
  webhookUrl: string | undefined;
  webhookAttempts: number;
  /** The e-mail and chat queue; absent = neither channel (tests of the webhook alone). */
  sends?: Queue;
  /** SMTP is configured: every new inbox row gets an e-mail. */
  email?: boolean;
  emailAttempts?: number;
  now?: () => Date;
};

/** The JSON body POSTed to the webhook (see docs/WEBHOOKS.md). */
export type WebhookPayload = {
  id: string;
  type: string;
  createdAt: string;
  presetId: string;
  message: Omit<RenderedMessage, 'kind'>;
  recipients: { notificationId: string; userId: string; username: string; email: string | null }[];
};

export type EventOutcome = { kind: 'rejected' | 'unknown-preset' | 'duplicate' | 'recorded'; deliveryId?: string; recipients?: number };

/** Job id of a delivery: fixed per delivery, so enqueueing it again (redelivered event) never posts twice. */
export const deliveryJobId = (deliveryId: string) => `delivery-${deliveryId}`;

export async function enqueueDelivery(deliveries: Queue, deliveryId: string, attempts: number): Promise<void> {
  await deliveries.add('deliver', { deliveryId }, { jobId: deliveryJobId(deliveryId), attempts, backoff: { type: 'webhook' }, ...traceJobOptions() });
}

async function enqueueSends(deps: EventHandlerDeps, sends: PendingSend[]): Promise<void> {
  if (!deps.sends || sends.length === 0) return;
  const trace = traceJobOptions();
  await deps.sends.addBulk(
    sends.map((s) => ({
      name: s.channel,
      data: { sendId: s.id },
      opts: { jobId: sendJobId(s.id), attempts: s.channel === 'email' ? (deps.emailAttempts ?? deps.webhookAttempts) : deps.webhookAttempts, backoff: { type: 'webhook' }, ...trace },
    })),
  );
}

/**
 * Handles one notification event: validate, resolve names and recipients, render, then store inbox rows and
 * the delivery in one transaction and enqueue the delivery. Idempotent: a redelivered event only re-enqueues
 * a still pending delivery (same job id, so BullMQ ignores it while the first job exists).
 */
export async function handleNotificationEvent(deps: EventHandlerDeps, job: Pick<Job, 'id' | 'name' | 'data'>): Promise<EventOutcome> {
  const parsed = NotificationEvent.safeParse(job.data);
  if (!parsed.success || parsed.data.type !== job.name) {
    const problem = parsed.success ? `job name ${JSON.stringify(job.name)} does not match event type ${parsed.data.type}` : describeIssues(parsed.error);
    deps.logger.error({ jobId: job.id, name: job.name, problem }, 'malformed notification event rejected');
    throw new UnrecoverableError(`malformed notification event: ${problem}`);
  }
  const event = parsed.data;
  const log = deps.logger.child({ jobId: job.id, type: event.type, presetId: event.presetId });
  const context = await loadNotificationContext(deps.pool, event.presetId, event.type === 'resource-replacements' ? { workspaceId: event.workspaceId, claimantId: event.claimantId } : {});
  if (!context) {
    // Retrying cannot make a preset appear: events are published only after their transaction committed.
    log.warn('notification event for an unknown preset dropped');
    return { kind: 'unknown-preset' };
  }
  const now = deps.now?.() ?? new Date();
  const message = renderMessage(event, context, deps.publicUrl);
  const recipients = await findRecipients(deps.pool, context.organizationId, event.type);
  const { kind: _kind, ...messageBody } = message;
  const recorded = await recordNotificationEvent(deps.pool, {
    eventKey: eventKey(event),
    presetId: event.presetId,
    organizationId: context.organizationId,
    message,
    dedupKey: dailyDedupKey(message, now),
    recipients,
    url: context.organizationWebhookUrl ?? deps.webhookUrl ?? null,
    email: Boolean(deps.sends && deps.email),
    chatUrl: deps.sends ? context.organizationChatUrl : null,
    buildPayload: (deliveryId: string, rows: NewInboxRow[]): WebhookPayload => ({
      id: deliveryId,
      type: event.type,
      createdAt: now.toISOString(),
      presetId: event.presetId,
      message: messageBody,
      recipients: rows,
    }),
  });
  if (recorded.status === 'pending') await enqueueDelivery(deps.deliveries, recorded.deliveryId, deps.webhookAttempts);
  await enqueueSends(deps, recorded.pendingSends);
  if (recorded.duplicate) {
    log.info({ deliveryId: recorded.deliveryId, status: recorded.status }, 'notification event already processed');
    return { kind: 'duplicate', deliveryId: recorded.deliveryId };
  }
  if (recorded.status === 'skipped') deliveriesTotal.inc({ channel: 'webhook', result: 'skipped' });
  for (const channel of recorded.skippedSends) deliveriesTotal.inc({ channel, result: 'skipped' });
  log.info({ deliveryId: recorded.deliveryId, recipients: recorded.rows.length, status: recorded.status, sends: recorded.pendingSends.length }, 'notification recorded');
  return { kind: 'recorded', deliveryId: recorded.deliveryId, recipients: recorded.rows.length };
}
