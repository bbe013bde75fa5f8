import type pg from 'pg';
import { withTransaction } from './pool.js';

/** Queries behind the notifier (event -> inbox rows + one webhook delivery) and the inbox API routes. */

export type DeliveryStatus = 'pending' | 'delivered' | 'dead_letter' | 'skipped';

export type NotificationLink = { label: string; url: string };

export type InboxItem = {
  id: string;
  kind: string;
  title: string;
  body: string;
  labels: Record<string, string>;
  links: NotificationLink[];
  deliveryStatus: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  readAt: string | null;
  /** The e-mail of this notice to its recipient; null when none was due (SMTP not configured). */
  email: { status: DeliveryStatus; attempts: number; lastError: string | null } | null;
};

export type InboxPage = { items: InboxItem[]; nextCursor: string | null };

/** Bad inbox query input (the API answers 400 with `field` and the message). */
export class NotificationQueryError extends Error {
  override name = 'NotificationQueryError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const INBOX_MAX_LIMIT = 100;

// The cursor is opaque to clients: base64url of "<created_at ISO>|<id>" of the last item of a page.
// The instant is kept at PostgreSQL's microsecond precision: a millisecond JS Date would skip rows on page breaks.
function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (extra !== undefined || !createdAt || !id || !UUID_RE.test(id) || Number.isNaN(Date.parse(createdAt))) {
    throw new NotificationQueryError('before', 'not a cursor returned by a previous page');
  }
  return { createdAt, id };
}

type InboxRow = {
  id: string;
  kind: string;
  title: string;
  body: string;
  labels: Record<string, string>;
  links: NotificationLink[];
  delivery_status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
  read_at: Date | null;
  cursor_at: string;
  email: { status: DeliveryStatus; attempts: number; lastError: string | null } | null;
};

/**
 * One page of a user's inbox, newest first. `before` is the `nextCursor` of the previous page;
 * `nextCursor` is null on the last page. Throws NotificationQueryError for a bad limit or cursor.
 */
export async function listNotifications(pool: pg.Pool, userId: string, options: { limit: number; before?: string | undefined }): Promise<InboxPage> {
  const { limit } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > INBOX_MAX_LIMIT) throw new NotificationQueryError('limit', `must be an integer from 1 to ${INBOX_MAX_LIMIT}`);
  if (!UUID_RE.test(userId)) return { items: [], nextCursor: null };
  const cursor = options.before === undefined ? undefined : decodeCursor(options.before);
  // One row more than asked tells whether another page exists.
  const { rows } = await pool.query<InboxRow>(
    `SELECT id, kind, title, body, labels, links, delivery_status, attempts, last_error, created_at, delivered_at, read_at,
            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at,
            (SELECT json_build_object('status', s.status, 'attempts', s.attempts, 'lastError', s.last_error)
             FROM notification_sends s WHERE s.notification_id = n.id AND s.channel = 'email') AS email
     FROM notifications n
     WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
     ORDER BY created_at DESC, id DESC
     LIMIT $4`,
    [userId, cursor?.createdAt ?? null, cursor?.id ?? null, limit + 1],
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: r.id,
      kind: r.kind,
      title: r.title,
      body: r.body,
      labels: r.labels,
      links: r.links,
      deliveryStatus: r.delivery_status,
      attempts: r.attempts,
      lastError: r.last_error,
      createdAt: r.created_at.toISOString(),
      deliveredAt: r.delivered_at?.toISOString() ?? null,
      readAt: r.read_at?.toISOString() ?? null,
      email: r.email,
    })),
    nextCursor: rows.length > limit && last ? encodeCursor(last.cursor_at, last.id) : null,
  };
}

/** Marks one of the user's notifications read (idempotent). False when it does not exist or is not theirs. */
export async function markNotificationRead(pool: pg.Pool, userId: string, notificationId: string): Promise<boolean> {
  if (!UUID_RE.test(userId) || !UUID_RE.test(notificationId)) return false;
  const { rowCount } = await pool.query(`UPDATE notifications SET read_at = COALESCE(read_at, now()) WHERE id = $1 AND user_id = $2`, [notificationId, userId]);
  return (rowCount ?? 0) > 0;
}

// ---------------------------------------------------------------------------------------------------------
// Notifier side

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

export type SendChannel = 'email' | 'chat';
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

const SITE_DISABLED = 'kind disabled site-wide by an owner';

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
    const webhookRows = rows.filter((r) => !byUser.get(r.userId)?.webhookOff);
    const noneNew = rows.length === 0 ? 'no new recipients (identical message already sent today)' : null;
    const reason =
      (siteDisabled ? SITE_DISABLED : null) ??
      noneNew ??
      (webhookRows.length === 0 ? 'every recipient turned webhooks off for this kind' : null) ??
      (event.url === null ? 'no webhook URL configured' : null);
    const status: DeliveryStatus = reason === null ? 'pending' : 'skipped';
    await client.query(`UPDATE notification_deliveries SET payload = $2, status = $3, last_error = $4 WHERE id = $1`, [
      deliveryId,
      JSON.stringify(event.buildPayload(deliveryId, webhookRows)),
      status,
      reason,
    ]);
    // Rows the webhook does not carry are skipped now; the others follow the delivery's outcome.
    const carried = status === 'pending' ? webhookRows.map((r) => r.notificationId) : [];
    await client.query(
      `UPDATE notifications SET delivery_status = 'skipped', last_error = COALESCE($3, 'webhook turned off by the recipient for this kind')
       WHERE delivery_id = $1 AND NOT (id = ANY($2::uuid[]))`,
      [deliveryId, carried, reason],
    );
    const sends = await insertSends(client, deliveryId, plannedSends(event, rows, byUser, siteDisabled ? SITE_DISABLED : null, noneNew));
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

type PlannedSend = { channel: SendChannel; notificationId: string | null; target: string | null; skip: string | null };

/** One e-mail per new inbox row (when SMTP is configured) and one chat post, each with the reason it is skipped, if any. */
function plannedSends(event: EventToRecord, rows: NewInboxRow[], byUser: Map<string, Recipient>, siteDisabled: string | null, noneNew: string | null): PlannedSend[] {
  const sends: PlannedSend[] = [];
  if (event.email) {
    for (const row of rows) {
      const skip = siteDisabled ?? (byUser.get(row.userId)?.emailOff ? 'e-mail turned off by the recipient for this kind' : row.email ? null : 'no e-mail address');
      sends.push({ channel: 'email', notificationId: row.notificationId, target: row.email, skip });
    }
  }
  if (event.chatUrl !== null) sends.push({ channel: 'chat', notificationId: null, target: event.chatUrl, skip: siteDisabled ?? noneNew });
  return sends;
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
