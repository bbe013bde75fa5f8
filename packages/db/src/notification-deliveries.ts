import type pg from 'pg';
import type { SendChannel } from '@warmpool/core';
import { withTransaction } from './pool.js';
import type { DeliveryStatus, RenderedMessage } from './notification-events.js';

/** Delivery bookkeeping of the notifier: a webhook delivery or an e-mail/chat send to perform, and each attempt's outcome. */

export type DeliveryToSend = {
  id: string;
  kind: string;
  url: string | null;
  payload: unknown;
  status: DeliveryStatus;
  attempts: number;
  /** The organization's own active signing secrets, current first (two during a rollover); empty = use the global ones. */
  organizationSecrets: string[];
};

export async function loadDelivery(pool: pg.Pool, deliveryId: string): Promise<DeliveryToSend | undefined> {
  const { rows } = await pool.query<DeliveryToSend>(
    `SELECT d.id, d.kind, d.url, d.payload, d.status, d.attempts, array_remove(ARRAY[o.webhook_secret, o.webhook_secret_previous], NULL) AS "organizationSecrets"
     FROM notification_deliveries d LEFT JOIN organizations o ON o.id = d.organization_id
     WHERE d.id = $1`,
    [deliveryId],
  );
  return rows[0];
}

/**
 * Stores the outcome of one attempt on the delivery and on every inbox row it carried. A final status
 * ('delivered', 'dead_letter', 'skipped') is only written while the delivery is still pending.
 */
export async function recordDeliveryAttempt(pool: pg.Pool, deliveryId: string, outcome: AttemptOutcome): Promise<void> {
  await withTransaction(pool, async (client) => {
    const values = [deliveryId, outcome.status, outcome.attempts, outcome.error];
    const { rowCount } = await client.query(`UPDATE notification_deliveries SET ${outcomeSet('status')} WHERE id = $1 AND status = 'pending'`, values);
    if (!rowCount) return;
    await client.query(`UPDATE notifications SET ${outcomeSet('delivery_status')} WHERE delivery_id = $1 AND delivery_status = 'pending'`, values);
  });
}

export type AttemptOutcome = { status: DeliveryStatus; attempts: number; error: string | null };

/** The SET list storing an attempt's outcome ($2 status, $3 attempts so far, $4 error), for any delivery-like table. */
const outcomeSet = (statusColumn: string) =>
  `${statusColumn} = $2, attempts = GREATEST(attempts, $3), last_error = $4, delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END`;

export type SendToPerform = {
  id: string;
  channel: SendChannel;
  kind: string;
  /** E-mail address or chat webhook URL. */
  target: string | null;
  status: DeliveryStatus;
  attempts: number;
  message: Omit<RenderedMessage, 'kind'>;
  /** The recipient (e-mail only). */
  username: string | null;
};

/** One e-mail or chat post with the message it carries (from the event's stored webhook body). */
export async function loadSend(pool: pg.Pool, sendId: string): Promise<SendToPerform | undefined> {
  const { rows } = await pool.query<SendToPerform>(
    `SELECT s.id, s.channel, d.kind, s.target, s.status, s.attempts, d.payload->'message' AS message, u.username
     FROM notification_sends s
     JOIN notification_deliveries d ON d.id = s.delivery_id
     LEFT JOIN notifications n ON n.id = s.notification_id
     LEFT JOIN users u ON u.id = n.user_id
     WHERE s.id = $1`,
    [sendId],
  );
  return rows[0];
}

/** Stores the outcome of one attempt of an e-mail or chat post; a final status only while it is still pending. */
export async function recordSendAttempt(pool: pg.Pool, sendId: string, outcome: AttemptOutcome): Promise<void> {
  await pool.query(`UPDATE notification_sends SET ${outcomeSet('status')} WHERE id = $1 AND status = 'pending'`, [sendId, outcome.status, outcome.attempts, outcome.error]);
}
