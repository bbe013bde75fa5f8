import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SYSTEM_USER_ID } from './constants.js';

/** Writes behind workspace creation, claims and deletion. Each takes a transaction's client; none commits. */

export type WorkspaceRow = {
  id: string;
  organization_id: string;
  template_id: string;
  template_version_id: string;
  preset_id: string | null;
  owner_id: string;
  name: string;
  deleted: boolean;
  autostop_seconds: number | null;
  dormant_after_seconds: number | null;
  created_at: Date;
  last_used_at: Date | null;
  claimed_at: Date | null;
  latest_build: { id: string; build_number: number; transition: string; job_status: string; reason: string } | null;
};

export class WorkspaceNameTakenError extends Error {
  override name = 'WorkspaceNameTakenError';
}

const WORKSPACE_SELECT = `
  SELECT w.*, (SELECT json_build_object('id', b.id, 'build_number', b.build_number, 'transition', b.transition,
                                        'job_status', b.job_status, 'reason', b.reason)
               FROM builds b WHERE b.workspace_id = w.id ORDER BY b.build_number DESC LIMIT 1) AS latest_build
  FROM workspaces w`;

export async function getWorkspace(db: pg.Pool | pg.ClientBase, id: string, options: { forUpdate?: boolean } = {}): Promise<WorkspaceRow | undefined> {
  if (options.forUpdate) await db.query('SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE', [id]);
  const { rows } = await db.query<WorkspaceRow>(`${WORKSPACE_SELECT} WHERE w.id = $1`, [id]);
  return rows[0];
}

type BuildToRequest = {
  workspaceId: string;
  buildNumber: number;
  templateVersionId: string;
  transition: 'start' | 'stop' | 'delete';
  initiatorId: string;
  reason: 'claim' | 'user' | 'prebuild-delete';
  parameters: Record<string, string>;
  presetId: string | null;
  priority: number;
  /**
   * A workspace request the preset applied to: 'hit' (a claim) or 'miss' (nothing eligible, a fresh build). It is
   * recorded in demand_events and counted (claimed / missed) in the same statement: no extra round trip.
   */
  demand?: 'hit' | 'miss';
};

/**
 * Inserts a pending build and its build-requested event (outbox), and for requests a preset applied to records
 * the demand event and bumps the claimed/missed counter, in one statement in the caller's transaction.
 */
export async function requestBuild(client: pg.ClientBase, build: BuildToRequest): Promise<string> {
  const buildId = randomUUID();
  const idempotencyKey = `build-${buildId}`;
  const payload = {
    buildId,
    workspaceId: build.workspaceId,
    transition: build.transition,
    templateVersionId: build.templateVersionId,
    presetId: build.presetId,
    parameters: build.parameters,
    reason: build.reason,
    idempotencyKey,
  };
  await client.query(
    `WITH b AS (
       INSERT INTO builds (id, workspace_id, build_number, template_version_id, transition, initiator_id, reason, parameters)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)),
     o AS (
       INSERT INTO outbox (queue, name, payload, idempotency_key, priority)
       VALUES ('build-requests', 'build-requested', $9, $10, $11)),
     d AS (
       INSERT INTO demand_events (preset_id, build_id, hit)
       SELECT $12::uuid, $1, $13::text = 'hit' WHERE $13::text IS NOT NULL AND $12::uuid IS NOT NULL)
     INSERT INTO preset_counters (preset_id, name, value)
     SELECT $12::uuid, CASE WHEN $13::text = 'hit' THEN 'claimed' ELSE 'missed' END, 1 WHERE $13::text IS NOT NULL AND $12::uuid IS NOT NULL
     ON CONFLICT (preset_id, name) DO UPDATE SET value = preset_counters.value + 1`,
    [
      buildId, build.workspaceId, build.buildNumber, build.templateVersionId, build.transition, build.initiatorId, build.reason,
      JSON.stringify(build.parameters), JSON.stringify(payload), idempotencyKey, build.priority, build.presetId, build.demand ?? null,
    ],
  );
  return buildId;
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/**
 * Claims one eligible prebuild of the preset for `userId` (SPEC §5), or returns undefined when none is
 * eligible. The workspace row is locked with SKIP LOCKED, so concurrent claimers never wait on each other
 * and never get the same workspace; a second statement (a fresh snapshot, under the lock) re-checks the owner
 * and the latest build while handing the workspace over, so a claim and a reconciler delete of the same
 * prebuild can never both succeed. The preset row is never locked here: the reconciler locks preset then
 * workspaces, and the opposite order could deadlock. Five round trips with BEGIN and COMMIT.
 */
export async function claimPrebuild(
  client: pg.ClientBase,
  input: { presetId: string; userId: string; name: string; priority: number },
): Promise<{ workspaceId: string; buildId: string } | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const { rows } = await client.query<{ id: string }>(
      `SELECT w.id FROM workspaces w
       JOIN presets p ON p.id = w.preset_id
       CROSS JOIN LATERAL (SELECT id, transition, job_status FROM builds WHERE workspace_id = w.id ORDER BY build_number DESC LIMIT 1) b
       WHERE w.preset_id = $1 AND w.owner_id = $2 AND NOT w.deleted
         AND b.transition = 'start' AND b.job_status = 'succeeded'
         AND EXISTS (SELECT 1 FROM agents a WHERE a.build_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.build_id = b.id AND NOT a.ready)
         AND NOT (COALESCE(p.ttl_seconds, 0) > 0 AND now() - w.created_at > make_interval(secs => p.ttl_seconds))
         AND NOT (p.invalidated_at IS NOT NULL AND w.created_at <= p.invalidated_at)
       ORDER BY w.created_at, w.id
       LIMIT 1
       FOR UPDATE OF w SKIP LOCKED`,
      [input.presetId, SYSTEM_USER_ID],
    );
    const id = rows[0]?.id;
    if (!id) return undefined;
    let claimed;
    try {
      claimed = await client.query<{ template_version_id: string; build_number: number; parameters: Record<string, string> }>(
        `UPDATE workspaces w SET owner_id = $3, name = $4, last_used_at = now(), claimed_at = now()
         FROM (SELECT build_number, transition, job_status, parameters FROM builds WHERE workspace_id = $1 ORDER BY build_number DESC LIMIT 1) b
         WHERE w.id = $1 AND w.owner_id = $2 AND NOT w.deleted AND b.transition = 'start' AND b.job_status = 'succeeded'
         RETURNING w.template_version_id, b.build_number, b.parameters`,
        [id, SYSTEM_USER_ID, input.userId, input.name],
      );
    } catch (err) {
      // The whole request fails (the transaction rolls back): no claim happens under a conflicting name.
      if (isUniqueViolation(err)) throw new WorkspaceNameTakenError(`you already have a workspace named ${JSON.stringify(input.name)}`);
      throw err;
    }
    const ws = claimed.rows[0];
    if (!ws) continue; // deleted or taken between the scan and the lock: try the next prebuild
    const buildId = await requestBuild(client, {
      workspaceId: id,
      buildNumber: ws.build_number + 1,
      templateVersionId: ws.template_version_id,
      transition: 'start',
      initiatorId: input.userId,
      reason: 'claim',
      parameters: ws.parameters ?? {},
      presetId: input.presetId,
      priority: input.priority,
      demand: 'hit',
    });
    return { workspaceId: id, buildId };
  }
  return undefined;
}

/** A fresh workspace and its first build, when no prebuild could be claimed. */
export async function createFreshWorkspace(
  client: pg.ClientBase,
  input: {
    organizationId: string;
    templateId: string;
    templateVersionId: string;
    presetId: string | null;
    userId: string;
    name: string;
    parameters: Record<string, string>;
    priority: number;
  },
): Promise<{ workspaceId: string; buildId: string }> {
  const workspaceId = randomUUID();
  try {
    await client.query(
      `INSERT INTO workspaces (id, organization_id, template_id, template_version_id, preset_id, owner_id, name, last_used_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())`,
      [workspaceId, input.organizationId, input.templateId, input.templateVersionId, input.presetId, input.userId, input.name],
    );
  } catch (err) {
    if (isUniqueViolation(err)) throw new WorkspaceNameTakenError(`you already have a workspace named ${JSON.stringify(input.name)}`);
    throw err;
  }
  const buildId = await requestBuild(client, {
    workspaceId,
    buildNumber: 1,
    templateVersionId: input.templateVersionId,
    transition: 'start',
    initiatorId: input.userId,
    reason: 'user',
    parameters: input.parameters,
    presetId: input.presetId,
    priority: input.priority,
    // A fresh workspace for a request a preset applied to is a miss of that preset's pool.
    demand: input.presetId ? 'miss' : undefined,
  });
  return { workspaceId, buildId };
}

/** Requests deletion of a locked workspace (the caller checked authorization); returns the build id. */
export async function requestWorkspaceDelete(client: pg.ClientBase, workspace: WorkspaceRow, initiatorId: string, priority: number): Promise<string> {
  const { rows } = await client.query<{ parameters: Record<string, string> }>(
    'SELECT parameters FROM builds WHERE workspace_id = $1 ORDER BY build_number DESC LIMIT 1',
    [workspace.id],
  );
  return requestBuild(client, {
    workspaceId: workspace.id,
    buildNumber: (workspace.latest_build?.build_number ?? 0) + 1,
    templateVersionId: workspace.template_version_id,
    transition: 'delete',
    initiatorId,
    reason: workspace.owner_id === SYSTEM_USER_ID ? 'prebuild-delete' : 'user',
    parameters: rows[0]?.parameters ?? {},
    presetId: workspace.preset_id,
    priority,
  });
}

export type Principal = {
  userId: string;
  username: string;
  roles: { role: 'owner' | 'template-admin' | 'org-admin' | 'member'; organizationId: string | null }[];
};

/**
 * The principal behind a bearer token (by its hash), or undefined for unknown or expired tokens. A read only:
 * `last_used_at` is refreshed separately, at most once a minute per token, so authentication adds no write.
 */
export async function findPrincipalByTokenHash(db: pg.Pool, tokenHash: Buffer): Promise<Principal | undefined> {
  const { rows } = await db.query<{ token_id: string; user_id: string; username: string; stale: boolean; roles: Principal['roles'] }>(
    `SELECT t.id AS token_id, u.id AS user_id, u.username,
            (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute') AS stale,
            COALESCE((SELECT json_agg(json_build_object('role', r.role, 'organizationId', r.organization_id))
                      FROM role_assignments r WHERE r.user_id = u.id), '[]') AS roles
     FROM api_tokens t JOIN users u ON u.id = t.user_id AND NOT u.is_system
     WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > now())`,
    [tokenHash],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.stale) void db.query('UPDATE api_tokens SET last_used_at = now() WHERE id = $1', [row.token_id]).catch(() => undefined);
  return { userId: row.user_id, username: row.username, roles: row.roles };
}
