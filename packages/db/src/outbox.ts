import type pg from 'pg';
import { BUILD_REQUEST_KEY_PREFIX, buildRequestedPayload, JOB_NAMES, notificationEventKey, notificationKey, NotificationEvent, QUEUES, type BuildToAnnounce } from '@warmpool/contracts';

export type OutboxMessage = {
  queue: string;
  name: string;
  payload: unknown;
  idempotencyKey: string;
  /** BullMQ priority (lower first); 0 = none. */
  priority?: number;
};

/**
 * The outbox message announcing a build to provisioners, used by user creates and deletes (requestBuild), the
 * reconciler and workspace-lost. The payload is validated here. Claims write the same message in SQL (claim_prebuild,
 * one statement); test/outbox/claim-message.test.ts holds the two to one shape.
 */
export function buildRequestedMessage(build: BuildToAnnounce, priority: number): OutboxMessage {
  const payload = buildRequestedPayload(build);
  return { queue: QUEUES.buildRequests, name: JOB_NAMES.buildRequested, payload, idempotencyKey: payload.idempotencyKey, priority };
}

/** The outbox message of a notifier event, validated, keyed per transition or claim build (notificationKey). */
export function notificationMessage(event: NotificationEvent): OutboxMessage {
  const payload = NotificationEvent.parse(event);
  return { queue: QUEUES.notifications, name: payload.type, payload, idempotencyKey: notificationKey(payload) };
}

/** Writes messages in the caller's transaction; a key already present is ignored (idempotent). */
export async function insertOutbox(client: pg.ClientBase, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await client.query(
    `INSERT INTO outbox (queue, name, payload, idempotency_key, priority)
     SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::int[])
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [
      messages.map((m) => m.queue),
      messages.map((m) => m.name),
      messages.map((m) => JSON.stringify(m.payload)),
      messages.map((m) => m.idempotencyKey),
      messages.map((m) => m.priority ?? 0),
    ],
  );
}

export type PendingOutboxRow = {
  id: number;
  queue: string;
  name: string;
  payload: unknown;
  idempotency_key: string;
  priority: number;
  /** W3C traceparent of the span that wrote the row (migration 026); null when tracing was off. */
  traceparent: string | null;
};

/**
 * Outbox rows written later in this transaction carry `traceparent` (the column's default reads this
 * transaction-local setting), whichever statement inserts them.
 */
export async function setOutboxTraceparent(client: pg.ClientBase, traceparent: string): Promise<void> {
  await client.query("SELECT set_config('warmpool.traceparent', $1, true)", [traceparent]);
}

/** Locks the oldest unpublished rows (other relays skip them) inside the caller's transaction. */
export async function lockPendingOutbox(client: pg.ClientBase, limit: number): Promise<PendingOutboxRow[]> {
  const { rows } = await client.query<PendingOutboxRow>(
    `SELECT id, queue, name, payload, idempotency_key, priority, traceparent FROM outbox
     WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows;
}

export async function markOutboxPublished(client: pg.ClientBase, ids: readonly number[]): Promise<void> {
  await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [ids]);
}

/** Deletes published rows older than `olderThanMs`; returns how many. */
export async function pruneOutbox(pool: pg.Pool, olderThanMs: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1::float8 / 1000)`,
    [olderThanMs],
  );
  return rowCount ?? 0;
}

/**
 * Marks for re-publishing the build requests of builds still `pending` (never started) whose event was published
 * more than `olderThanMs` ago. Covers a Redis that lost its data (restart without persistence, failover): the relay
 * then publishes them again with the same job id, which BullMQ ignores while the original job still exists.
 * Returns how many were re-queued.
 */
export async function requeueStaleBuildRequests(pool: pg.Pool, olderThanMs: number): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE outbox o SET published_at = NULL
     FROM builds b
     WHERE o.queue = $2 AND o.idempotency_key = $3 || b.id::text AND b.job_status = 'pending'
       AND o.published_at IS NOT NULL AND o.published_at < now() - make_interval(secs => $1::float8 / 1000)`,
    [olderThanMs, QUEUES.buildRequests, BUILD_REQUEST_KEY_PREFIX],
  );
  return rowCount ?? 0;
}

/**
 * Marks for re-publishing the notification events published more than `olderThanMs` ago (and created less than an
 * hour before that) that the notifier never recorded: a Redis failover can drop a just-published event. The relay
 * publishes them again under the same job id, a no-op while the original job still exists. Returns how many.
 */
export async function requeueUnrecordedNotificationEvents(pool: pg.Pool, olderThanMs: number): Promise<number> {
  const { rows } = await pool.query<{ id: string; payload: unknown }>(
    `SELECT id, payload FROM outbox
     WHERE queue = $1 AND published_at < now() - make_interval(secs => $2::float8 / 1000)
       AND created_at > now() - make_interval(secs => $2::float8 / 1000 + 3600)
     ORDER BY id LIMIT 1000`,
    [QUEUES.notifications, olderThanMs],
  );
  const candidates = rows.flatMap((r) => {
    const event = NotificationEvent.safeParse(r.payload);
    return event.success ? [{ id: r.id, key: notificationEventKey(event.data) }] : [];
  });
  if (candidates.length === 0) return 0;
  const { rowCount } = await pool.query(
    `UPDATE outbox o SET published_at = NULL
     FROM unnest($1::bigint[], $2::text[]) AS c(id, event_key)
     WHERE o.id = c.id AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.event_key = c.event_key)`,
    [candidates.map((c) => c.id), candidates.map((c) => c.key)],
  );
  return rowCount ?? 0;
}
