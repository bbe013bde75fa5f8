import type pg from 'pg';
import { planNotification, type PlannedSend, type SendChannel } from '@warmpool/core';
import { withTransaction } from './pool.js';

/** The notifier's event recording: who receives an event, and one transaction writing its inbox rows, webhook and sends. */

export type { SendChannel };

/** Of a webhook delivery, an e-mail or chat send, and the inbox rows a delivery carries. */
export type DeliveryStatus = 'pending' | 'delivered' | 'dead_letter' | 'skipped';

export type NotificationLink = { label: string; url: string };

export type NotificationContext = {
  presetId: string;
  presetName: string;
  versionName: string;
  templateName: string;
  organizationId: string;
  organizationName: string;
  organizationWebhookUrl: string | null;
  organizationChatUrl: string | null;
  workspaceName: string | null;
  claimantUsername: string | null;
};

/** Names of the preset's organization, template and version (plus workspace and claimant when given), in one query. */
export async function loadNotificationContext(
  db: pg.Pool | pg.PoolClient,
  presetId: string,
  extra: { workspaceId?: string; claimantId?: string } = {},
): Promise<NotificationContext | undefined> {
  const { rows } = await db.query<NotificationContext>(
    `SELECT p.id AS "presetId", p.name AS "presetName", v.name AS "versionName", t.name AS "templateName",
            o.id AS "organizationId", o.name AS "organizationName", o.webhook_url AS "organizationWebhookUrl", o.chat_webhook_url AS "organizationChatUrl",
            w.name AS "workspaceName", c.username AS "claimantUsername"
     FROM presets p
     JOIN template_versions v ON v.id = p.template_version_id
     JOIN templates t ON t.id = v.template_id
     JOIN organizations o ON o.id = t.organization_id
     LEFT JOIN workspaces w ON w.id = $2::uuid
     LEFT JOIN users c ON c.id = $3::uuid
     WHERE p.id = $1`,
    [presetId, extra.workspaceId ?? null, extra.claimantId ?? null],
  );
  return rows[0];
}

export type Recipient = {
  userId: string;
  username: string;
  email: string | null;
  /** The user turned this kind off for e-mail / for the webhook (the inbox keeps it regardless). */
  emailOff: boolean;
  webhookOff: boolean;
};

/** Owners, site template admins and the organization's template admins (never the system user), with their choices for `kind`. */
export async function findRecipients(db: pg.Pool | pg.PoolClient, organizationId: string, kind: string): Promise<Recipient[]> {
  const { rows } = await db.query<Recipient>(
    `SELECT u.id AS "userId", u.username, u.email,
            EXISTS (SELECT 1 FROM notification_preferences p WHERE p.user_id = u.id AND p.kind = $2 AND p.channel = 'email' AND NOT p.enabled) AS "emailOff",
            EXISTS (SELECT 1 FROM notification_preferences p WHERE p.user_id = u.id AND p.kind = $2 AND p.channel = 'webhook' AND NOT p.enabled) AS "webhookOff"
     FROM users u
     WHERE NOT u.is_system
       AND EXISTS (SELECT 1 FROM role_assignments r WHERE r.user_id = u.id
                   AND (r.role = 'owner' OR (r.role = 'template-admin' AND (r.organization_id IS NULL OR r.organization_id = $1))))
     ORDER BY u.username`,
    [organizationId, kind],
  );
  return rows;
}

export type RenderedMessage = {
  kind: string;
  title: string;
  body: string;
  labels: Record<string, string>;
  links: NotificationLink[];
};

export type NewInboxRow = { notificationId: string; userId: string; username: string; email: string | null };

export type RecordedEvent =
  /**
   * First time this event was seen: the inbox rows created now, the webhook delivery (to perform if pending) and
   * the e-mails and chat post still to send.
   */
  | { duplicate: false; deliveryId: string; status: DeliveryStatus; rows: NewInboxRow[]; pendingSends: PendingSend[]; skippedSends: SendChannel[] }
  /** The event was processed before (redelivery): nothing was written; sends still pending are listed again. */
  | { duplicate: true; deliveryId: string; status: DeliveryStatus; pendingSends: PendingSend[] };

export type PendingSend = { id: string; channel: SendChannel };

export type EventToRecord = {
  eventKey: string;
  presetId: string;
  organizationId: string;
  message: RenderedMessage;
  /** Per-recipient dedup key (UNIQUE (user_id, dedup_key)): identical messages at most once per UTC day. */
  dedupKey: string;
  recipients: Recipient[];
  /** Webhook URL (organization's, else global), or null = nothing to post. */
  url: string | null;
  /** SMTP is configured: each new inbox row gets an e-mail (sent, or skipped with the reason). */
  email: boolean;
  /** The organization's chat webhook, or null = no chat post. */
  chatUrl: string | null;
  /** Builds the webhook body once the delivery id and the rows it carries (recipients who want webhooks) are known. */
  buildPayload: (deliveryId: string, rows: NewInboxRow[]) => unknown;
};

/**
 * Records one notification event in one transaction: the delivery row (claiming `eventKey`), one inbox row
 * per recipient that did not get the identical message today, and the webhook body. Concurrent or repeated
 * calls with the same key wait for the first and then return `duplicate: true`.
 */
export async function recordNotificationEvent(pool: pg.Pool, event: EventToRecord): Promise<RecordedEvent> {
  return withTransaction(pool, async (client) => {
    const claimed = await client.query<{ id: string }>(
      `INSERT INTO notification_deliveries (event_key, kind, preset_id, organization_id, url)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_key) DO NOTHING RETURNING id`,
      [event.eventKey, event.message.kind, event.presetId, event.organizationId, event.url],
    );
    const deliveryId = claimed.rows[0]?.id;
    if (!deliveryId) return recordedBefore(client, event.eventKey);
    const siteDisabled = (await client.query(`SELECT 1 FROM notification_kind_settings WHERE kind = $1 AND disabled`, [event.message.kind])).rowCount === 1;
    const byUser = new Map(event.recipients.map((r) => [r.userId, r]));
    const rows = await insertInboxRows(client, event, deliveryId, byUser);
    const plan = planNotification({ siteDisabled, rows, choices: byUser, url: event.url, email: event.email, chatUrl: event.chatUrl });
    const status: DeliveryStatus = plan.webhookSkip === null ? 'pending' : 'skipped';
    await client.query(`UPDATE notification_deliveries SET payload = $2, status = $3, last_error = $4 WHERE id = $1`, [
      deliveryId,
      JSON.stringify(event.buildPayload(deliveryId, plan.webhookRows)),
      status,
      plan.webhookSkip,
    ]);
    // Rows the webhook does not carry are skipped now; the others follow the delivery's outcome.
    const carried = status === 'pending' ? plan.webhookRows.map((r) => r.notificationId) : [];
    await client.query(
      `UPDATE notifications SET delivery_status = 'skipped', last_error = COALESCE($3, 'webhook turned off by the recipient for this kind')
       WHERE delivery_id = $1 AND NOT (id = ANY($2::uuid[]))`,
      [deliveryId, carried, plan.webhookSkip],
    );
    const sends = await insertSends(client, deliveryId, plan.sends);
    return { duplicate: false, deliveryId, status, rows, ...sends };
  });
}

/** A redelivered event: what the first recording wrote, with the sends still pending. */
async function recordedBefore(client: pg.PoolClient, eventKey: string): Promise<RecordedEvent> {
  const { rows } = await client.query<{ id: string; status: DeliveryStatus; pending: PendingSend[] }>(
    `SELECT d.id, d.status,
            COALESCE((SELECT json_agg(json_build_object('id', s.id, 'channel', s.channel) ORDER BY s.id) FROM notification_sends s
                      WHERE s.delivery_id = d.id AND s.status = 'pending'), '[]') AS pending
     FROM notification_deliveries d WHERE d.event_key = $1`,
    [eventKey],
  );
  const existing = rows[0];
  if (!existing) throw new Error(`notification delivery for ${eventKey} vanished`);
  return { duplicate: true, deliveryId: existing.id, status: existing.status, pendingSends: existing.pending };
}

/** The inbox always keeps the notice, whatever the channel choices: one row per recipient not sent it today. */
async function insertInboxRows(client: pg.PoolClient, event: EventToRecord, deliveryId: string, byUser: Map<string, Recipient>): Promise<NewInboxRow[]> {
  const { message } = event;
  const inserted = await client.query<{ id: string; user_id: string }>(
    `INSERT INTO notifications (user_id, kind, title, body, labels, links, dedup_key, delivery_id)
     SELECT u, $2, $3, $4, $5, $6, $7, $8 FROM unnest($1::uuid[]) AS u
     ON CONFLICT (user_id, dedup_key) DO NOTHING
     RETURNING id, user_id`,
    [[...byUser.keys()], message.kind, message.title, message.body, JSON.stringify(message.labels), JSON.stringify(message.links), event.dedupKey, deliveryId],
  );
  return inserted.rows
    .map((r) => ({ notificationId: r.id, userId: r.user_id, username: byUser.get(r.user_id)?.username ?? '', email: byUser.get(r.user_id)?.email ?? null }))
    .sort((a, b) => a.username.localeCompare(b.username));
}

async function insertSends(client: pg.PoolClient, deliveryId: string, sends: PlannedSend[]): Promise<{ pendingSends: PendingSend[]; skippedSends: SendChannel[] }> {
  const created = await client.query<{ id: string; channel: SendChannel; status: DeliveryStatus }>(
    `INSERT INTO notification_sends (delivery_id, channel, notification_id, target, status, last_error)
     SELECT $1, s.channel, s.notification_id, s.target, CASE WHEN s.skip IS NULL THEN 'pending' ELSE 'skipped' END, s.skip
     FROM unnest($2::text[], $3::uuid[], $4::text[], $5::text[]) AS s(channel, notification_id, target, skip)
     RETURNING id, channel, status`,
    [deliveryId, sends.map((x) => x.channel), sends.map((x) => x.notificationId), sends.map((x) => x.target), sends.map((x) => x.skip)],
  );
  return {
    pendingSends: created.rows.filter((r) => r.status === 'pending').map((r) => ({ id: r.id, channel: r.channel })),
    skippedSends: created.rows.filter((r) => r.status === 'skipped').map((r) => r.channel),
  };
}
