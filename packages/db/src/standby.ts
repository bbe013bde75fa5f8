import type pg from 'pg';
import { JOB_NAMES, PROVISIONER_LIVE_MS, QUEUES, BUILD_PRIORITY, StandbyRequested, standbyRequestKey, type ProvisionerCapability } from '@warmpool/contracts';
import { SYSTEM_USER_ID } from './constants.js';
import { insertOutbox, type OutboxMessage } from './outbox.js';

/** Standby tiers (issue 25): a preset's eligible prebuilds with their tier, the requests, the provisioner's answers. */

export type StandbyPoolRow = {
  id: string;
  createdAt: Date;
  want: 'hot' | 'frozen' | null;
  frozen: boolean;
  requestedAt: Date | null;
};

/** The preset's stored standby fragment and its eligible prebuilds (oldest first) with their tiers. */
export async function loadStandbyPool(db: pg.Pool | pg.ClientBase, presetId: string): Promise<{ standby: unknown; prebuilds: StandbyPoolRow[] }> {
  const { rows } = await db.query<{ standby: unknown; prebuilds: (Omit<StandbyPoolRow, 'createdAt' | 'requestedAt'> & { createdAt: string; requestedAt: string | null })[] }>(
    `SELECT p.standby,
            COALESCE((SELECT jsonb_agg(jsonb_build_object('id', r.id, 'createdAt', r.created_at, 'want', w.standby_want,
                                                           'frozen', w.frozen_at IS NOT NULL, 'requestedAt', w.standby_requested_at)
                                       ORDER BY r.created_at, r.id)
                      FROM running_prebuilds r JOIN workspaces w ON w.id = r.id
                      WHERE r.preset_id = p.id AND r.eligible), '[]') AS prebuilds
     FROM presets p WHERE p.id = $1`,
    [presetId],
  );
  const row = rows[0];
  if (!row) return { standby: null, prebuilds: [] };
  return {
    standby: row.standby,
    prebuilds: row.prebuilds.map((p) => ({ ...p, createdAt: new Date(p.createdAt), requestedAt: p.requestedAt === null ? null : new Date(p.requestedAt) })),
  };
}

/**
 * Whether every provisioner seen within PROVISIONER_LIVE_MS declares `capability` (and at least one was seen): any
 * of them may take a request from the shared queue, so Warmpool asks only for what all of them can do.
 */
export async function provisionersDeclare(db: pg.Pool | pg.ClientBase, capability: ProvisionerCapability): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(
    `SELECT count(*) > 0 AND bool_and($1 = ANY (capabilities)) AS ok FROM provisioners
     WHERE last_seen_at > now() - make_interval(secs => $2::float8 / 1000)`,
    [capability, PROVISIONER_LIVE_MS],
  );
  return rows[0]?.ok ?? false;
}

/** `capabilities` holds only known ones: provisioner-seen reports are validated against PROVISIONER_CAPABILITIES. */
export type ProvisionerRow = { identity: string; capabilities: ProvisionerCapability[]; firstSeenAt: Date; lastSeenAt: Date; live: boolean };

/** Provisioners seen in the last day, most recently seen first (GET /api/v1/provisioners). */
export async function listProvisioners(db: pg.Pool | pg.ClientBase): Promise<ProvisionerRow[]> {
  const { rows } = await db.query<ProvisionerRow>(
    `SELECT identity, capabilities, first_seen_at AS "firstSeenAt", last_seen_at AS "lastSeenAt",
            last_seen_at > now() - make_interval(secs => $1::float8 / 1000) AS live
     FROM provisioners WHERE last_seen_at > now() - interval '1 day' ORDER BY last_seen_at DESC, identity`,
    [PROVISIONER_LIVE_MS],
  );
  return rows;
}

/** Records a provisioner-seen report (newest wins) and forgets provisioners not seen for a day. */
export async function recordProvisionerSeen(db: pg.Pool | pg.ClientBase, seen: { provisioner: string; capabilities: readonly string[]; at: Date }): Promise<void> {
  await db.query(
    `WITH up AS (
       INSERT INTO provisioners (identity, capabilities, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (identity) DO UPDATE SET capabilities = EXCLUDED.capabilities, last_seen_at = EXCLUDED.last_seen_at
       WHERE provisioners.last_seen_at <= EXCLUDED.last_seen_at)
     DELETE FROM provisioners WHERE last_seen_at < now() - interval '1 day' AND identity <> $1`,
    [seen.provisioner, [...seen.capabilities], seen.at],
  );
}

/**
 * Asks for freezes and thaws in the caller's transaction: each prebuild's wanted tier and the request instant are
 * written with its outbox message (one per workspace, action and instant). Only unclaimed, live prebuilds are
 * changed; returns the ids asked for.
 */
export async function requestStandby(client: pg.ClientBase, requests: readonly { id: string; action: 'freeze' | 'thaw' }[], at: Date): Promise<string[]> {
  if (requests.length === 0) return [];
  const { rows } = await client.query<{ id: string; action: 'freeze' | 'thaw' }>(
    `UPDATE workspaces w SET standby_want = CASE r.action WHEN 'freeze' THEN 'frozen' ELSE 'hot' END, standby_requested_at = $3
     FROM unnest($1::uuid[], $2::text[]) AS r(id, action)
     WHERE w.id = r.id AND w.owner_id = $4 AND NOT w.deleted
     RETURNING w.id, r.action`,
    [requests.map((r) => r.id), requests.map((r) => r.action), at, SYSTEM_USER_ID],
  );
  const messages: OutboxMessage[] = rows.map((r) => {
    const payload = StandbyRequested.parse({ workspaceId: r.id, action: r.action, idempotencyKey: standbyRequestKey(r.id, r.action, at) });
    // Delete priority: a thaw refills the hot tier and must not wait behind prebuild creates.
    return { queue: QUEUES.buildRequests, name: JOB_NAMES.standbyRequested, payload, idempotencyKey: payload.idempotencyKey, priority: BUILD_PRIORITY.delete };
  });
  await insertOutbox(client, messages);
  return rows.map((r) => r.id);
}

/**
 * Applies a provisioner's `standby-done`: a freeze is recorded only while a freeze is still what Warmpool wants of
 * an unclaimed prebuild, a thaw only while a freeze is not (answers may arrive out of order; the last request
 * wins). Returns the preset to reconcile, or null when nothing changed.
 */
export async function applyStandbyDone(db: pg.Pool | pg.ClientBase, done: { workspaceId: string; action: 'freeze' | 'thaw'; at: Date }): Promise<string | null> {
  const { rows } = await db.query<{ preset_id: string | null }>(
    done.action === 'freeze'
      ? `UPDATE workspaces SET frozen_at = COALESCE(frozen_at, $3)
         WHERE id = $1 AND owner_id = $2 AND NOT deleted AND standby_want = 'frozen' RETURNING preset_id`
      : `UPDATE workspaces SET frozen_at = NULL
         WHERE id = $1 AND owner_id = $2 AND NOT deleted AND standby_want IS DISTINCT FROM 'frozen' RETURNING preset_id`,
    done.action === 'freeze' ? [done.workspaceId, SYSTEM_USER_ID, done.at] : [done.workspaceId, SYSTEM_USER_ID],
  );
  return rows[0]?.preset_id ?? null;
}

/**
 * Per preset of `presetIds` (all presets with tiers or frozen prebuilds when absent): its stored standby fragment and
 * its eligible prebuilds per tier, frozen = frozen or a freeze asked for (the claim's order: hot ones first).
 */
export async function standbyCounts(db: pg.Pool | pg.ClientBase, presetIds?: readonly string[]): Promise<Map<string, { standby: unknown; hot: number; frozen: number }>> {
  const { rows } = await db.query<{ preset_id: string; standby: unknown; hot: number; frozen: number }>(
    `SELECT p.id AS preset_id, p.standby,
            count(r.id) FILTER (WHERE w.frozen_at IS NULL AND w.standby_want IS DISTINCT FROM 'frozen')::int AS hot,
            count(r.id) FILTER (WHERE w.frozen_at IS NOT NULL OR w.standby_want = 'frozen')::int AS frozen
     FROM presets p
     LEFT JOIN running_prebuilds r ON r.preset_id = p.id AND r.eligible
     LEFT JOIN workspaces w ON w.id = r.id
     WHERE ($1::uuid[] IS NULL OR p.id = ANY($1)) AND (p.standby IS NOT NULL OR $1::uuid[] IS NOT NULL)
     GROUP BY p.id`,
    [presetIds ?? null],
  );
  return new Map(rows.map((r) => [r.preset_id, { standby: r.standby, hot: r.hot, frozen: r.frozen }]));
}

// Class of the transaction-scoped advisory locks that keep one standby decision per preset at a time (the second
// key is the preset id's hash; a rare collision only makes two presets' steps wait for each other).
const STANDBY_LOCK_CLASS = 7_270_025;

/**
 * Takes the preset's standby lock for the caller's transaction, waiting for a concurrent step (milliseconds) so that
 * it decides on what that one wrote. Transaction-scoped: safe behind a transaction-pooling PgBouncer.
 */
export async function lockStandby(client: pg.ClientBase, presetId: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [STANDBY_LOCK_CLASS, presetId]);
}
