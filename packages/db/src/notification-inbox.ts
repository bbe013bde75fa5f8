import type pg from 'pg';
import type { DeliveryStatus, NotificationLink } from './notification-events.js';

/** The inbox API routes' queries: a user's notices, newest first, paged by an opaque cursor, and marking one read. */

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
