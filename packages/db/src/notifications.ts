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
            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
     FROM notifications
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
            o.id AS "organizationId", o.name AS "organizationName", o.webhook_url AS "organizationWebhookUrl",
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

export type Recipient = { userId: string; username: string; email: string | null };

/** Owners, site template admins and the organization's template admins (never the system user). */
export async function findRecipients(db: pg.Pool | pg.PoolClient, organizationId: string): Promise<Recipient[]> {
  const { rows } = await db.query<Recipient>(
    `SELECT DISTINCT u.id AS "userId", u.username, u.email
     FROM users u
     JOIN role_assignments r ON r.user_id = u.id
     WHERE NOT u.is_system
       AND (r.role = 'owner' OR (r.role = 'template-admin' AND (r.organization_id IS NULL OR r.organization_id = $1)))
     ORDER BY u.username`,
    [organizationId],
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
  /** First time this event was seen: the rows created now and the delivery to perform (if status pending). */
  | { duplicate: false; deliveryId: string; status: DeliveryStatus; rows: NewInboxRow[] }
  /** The event was processed before (redelivery): nothing was written. */
  | { duplicate: true; deliveryId: string; status: DeliveryStatus };

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
  /** Builds the webhook body once the delivery id and the newly created rows are known. */
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
    if (!deliveryId) {
      const { rows } = await client.query<{ id: string; status: DeliveryStatus }>(`SELECT id, status FROM notification_deliveries WHERE event_key = $1`, [event.eventKey]);
      const existing = rows[0];
      if (!existing) throw new Error(`notification delivery for ${event.eventKey} vanished`);
      return { duplicate: true, deliveryId: existing.id, status: existing.status };
    }
    const byUser = new Map(event.recipients.map((r) => [r.userId, r]));
    const { message } = event;
    const inserted = await client.query<{ id: string; user_id: string }>(
      `INSERT INTO notifications (user_id, kind, title, body, labels, links, dedup_key, delivery_id)
       SELECT u, $2, $3, $4, $5, $6, $7, $8 FROM unnest($1::uuid[]) AS u
       ON CONFLICT (user_id, dedup_key) DO NOTHING
       RETURNING id, user_id`,
      [[...byUser.keys()], message.kind, message.title, message.body, JSON.stringify(message.labels), JSON.stringify(message.links), event.dedupKey, deliveryId],
    );
    const rows: NewInboxRow[] = inserted.rows
      .map((r) => ({ notificationId: r.id, userId: r.user_id, username: byUser.get(r.user_id)?.username ?? '', email: byUser.get(r.user_id)?.email ?? null }))
      .sort((a, b) => a.username.localeCompare(b.username));
    // Nothing new for anyone (all deduplicated today) or nowhere to post: the delivery is skipped.
    const reason = rows.length === 0 ? 'no new recipients (identical message already sent today)' : event.url === null ? 'no webhook URL configured' : null;
    const status: DeliveryStatus = reason === null ? 'pending' : 'skipped';
    await client.query(`UPDATE notification_deliveries SET payload = $2, status = $3, last_error = $4 WHERE id = $1`, [
      deliveryId,
      JSON.stringify(event.buildPayload(deliveryId, rows)),
      status,
      reason,
    ]);
    if (status === 'skipped') await client.query(`UPDATE notifications SET delivery_status = 'skipped', last_error = $2 WHERE delivery_id = $1`, [deliveryId, reason]);
    return { duplicate: false, deliveryId, status, rows };
  });
}

export type DeliveryToSend = {
  id: string;
  kind: string;
  url: string | null;
  payload: unknown;
  status: DeliveryStatus;
  attempts: number;
  /** The organization's own signing secret, if it has one. */
  organizationSecret: string | null;
};

export async function loadDelivery(pool: pg.Pool, deliveryId: string): Promise<DeliveryToSend | undefined> {
  const { rows } = await pool.query<DeliveryToSend>(
    `SELECT d.id, d.kind, d.url, d.payload, d.status, d.attempts, o.webhook_secret AS "organizationSecret"
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
export async function recordDeliveryAttempt(pool: pg.Pool, deliveryId: string, outcome: { status: DeliveryStatus; attempts: number; error: string | null }): Promise<void> {
  await withTransaction(pool, async (client) => {
    const { rowCount } = await client.query(
      `UPDATE notification_deliveries
       SET status = $2, attempts = GREATEST(attempts, $3), last_error = $4,
           delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END
       WHERE id = $1 AND status = 'pending'`,
      [deliveryId, outcome.status, outcome.attempts, outcome.error],
    );
    if (!rowCount) return;
    await client.query(
      `UPDATE notifications
       SET delivery_status = $2, attempts = GREATEST(attempts, $3), last_error = $4,
           delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END
       WHERE delivery_id = $1`,
      [deliveryId, outcome.status, outcome.attempts, outcome.error],
    );
  });
}
