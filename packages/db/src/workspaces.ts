import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { DomainError } from '@warmpool/contracts';
import { SYSTEM_USER_ID } from './constants.js';
import { buildRequestedMessage } from './outbox.js';

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

/** A user's workspace names are unique among their live workspaces: `conflict`. */
export class WorkspaceNameTakenError extends DomainError {
  override name = 'WorkspaceNameTakenError';
  constructor(message: string) {
    super('conflict', message);
  }
}

const WORKSPACE_SELECT = `
  SELECT w.*, CASE WHEN l.build_id IS NOT NULL THEN json_build_object('id', l.build_id, 'build_number', l.build_number,
                'transition', l.transition, 'job_status', l.job_status, 'reason', l.reason) END AS latest_build
  FROM workspaces w LEFT JOIN workspace_latest_builds l ON l.id = w.id`;

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
  /** A claim also counts towards the preset's claimed counter. */
  countClaim?: boolean;
};

/**
 * Inserts a pending build and its build-requested event (outbox, buildRequestedMessage), and for claims bumps the
 * preset's claim counter, in one statement in the caller's transaction.
 */
export async function requestBuild(client: pg.ClientBase, build: BuildToRequest): Promise<string> {
  const buildId = randomUUID();
  const message = buildRequestedMessage({ buildId, ...build }, build.priority);
  await client.query(
    `WITH b AS (
       INSERT INTO builds (id, workspace_id, build_number, template_version_id, transition, initiator_id, reason, parameters)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)),
     o AS (
       INSERT INTO outbox (queue, name, payload, idempotency_key, priority)
       VALUES ($14, $15, $9, $10, $11))
     SELECT bump_preset_counter($12::uuid, 'claimed', 1) WHERE $13::bool AND $12::uuid IS NOT NULL`,
    [
      buildId, build.workspaceId, build.buildNumber, build.templateVersionId, build.transition, build.initiatorId, build.reason,
      JSON.stringify(build.parameters), JSON.stringify(message.payload), message.idempotencyKey, message.priority, build.presetId, build.countClaim ?? false,
      message.queue, message.name,
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
      // Only the workspace row is locked (FOR UPDATE OF w): locking through the view would lock the preset too.
      // The owner test on w itself is re-evaluated on the newest row version when the lock is taken.
      `SELECT w.id FROM workspaces w
       JOIN running_prebuilds r ON r.id = w.id
       WHERE r.preset_id = $1 AND r.eligible AND w.owner_id = $2 AND NOT w.deleted
       ORDER BY r.created_at, r.id
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
         FROM prebuild_workspaces b
         WHERE w.id = $1 AND b.id = w.id AND w.owner_id = $2 AND NOT w.deleted AND b.running
         RETURNING w.template_version_id, b.build_number, b.build_parameters AS parameters`,
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
      countClaim: true,
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
  });
  return { workspaceId, buildId };
}

/** Requests deletion of a locked workspace (the caller checked authorization); returns the build id. */
export async function requestWorkspaceDelete(client: pg.ClientBase, workspace: WorkspaceRow, initiatorId: string, priority: number): Promise<string> {
  const { rows } = await client.query<{ parameters: Record<string, string> }>(
    'SELECT build_parameters AS parameters FROM workspace_latest_builds WHERE id = $1',
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

/** Sets a workspace's lifecycle options; a field left undefined keeps its value, null clears it. */
export async function updateWorkspaceLifecycle(
  db: pg.Pool | pg.ClientBase,
  id: string,
  options: { autostopSeconds?: number | null | undefined; dormantAfterSeconds?: number | null | undefined },
): Promise<void> {
  await db.query(
    `UPDATE workspaces SET autostop_seconds = CASE WHEN $2 THEN $3 ELSE autostop_seconds END,
                           dormant_after_seconds = CASE WHEN $4 THEN $5 ELSE dormant_after_seconds END WHERE id = $1`,
    [id, options.autostopSeconds !== undefined, options.autostopSeconds ?? null, options.dormantAfterSeconds !== undefined, options.dormantAfterSeconds ?? null],
  );
}
