import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { DomainError } from '@warmpool/contracts';
import { SYSTEM_USER_ID } from './constants.js';
import { buildRequestKey, JOB_NAMES, QUEUES } from '@warmpool/contracts';
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
  /** `error` and `completed_at` (ISO text) are absent from the row a claim answers with (claim_prebuild). */
  latest_build: { id: string; build_number: number; transition: string; job_status: string; reason: string; error?: string | null; completed_at?: string | null } | null;
  /** The latest build's agents (`ready_at` as ISO text); absent from the row a claim answers with: it has none yet. */
  agents?: { name: string; ready: boolean; ready_at: string | null }[];
};

/** A user's workspace names are unique among their live workspaces: `conflict`. */
export class WorkspaceNameTakenError extends DomainError {
  override name = 'WorkspaceNameTakenError';
  constructor(message: string) {
    super('conflict', message);
  }
}

/** A build's agents as a JSON array (name, ready, ready_at), `[]` without any: what decides readiness. */
export const agentsJson = (buildId: string) => `COALESCE((SELECT json_agg(json_build_object('name', a.name, 'ready', a.ready, 'ready_at', a.ready_at) ORDER BY a.name)
                   FROM agents a WHERE a.build_id = ${buildId}), '[]')`;

// With the latest build's agents, which decide readiness (core workspaceReadiness).
const WORKSPACE_SELECT = `
  SELECT w.*, CASE WHEN l.build_id IS NOT NULL THEN json_build_object('id', l.build_id, 'build_number', l.build_number,
                'transition', l.transition, 'job_status', l.job_status, 'reason', l.reason, 'error', l.build_error,
                'completed_at', l.build_completed_at) END AS latest_build,
         ${agentsJson('l.build_id')} AS agents
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
  /**
   * 'miss': a workspace request the preset applied to found nothing eligible (a fresh build). It is recorded in
   * demand_events and counted (missed) in the same statement. Hits are recorded with the claim build itself (the
   * claim_prebuild function and the trigger of migration 011), so no caller passes them here.
   */
  demand?: 'miss';
};

/**
 * Inserts a pending build and its build-requested event (outbox, buildRequestedMessage), and for requests a preset
 * applied to records the demand event and bumps the claimed/missed counter, in one statement in the caller's
 * transaction.
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
       VALUES ($14, $15, $9, $10, $11)),
     d AS (
       INSERT INTO demand_events (preset_id, build_id, hit)
       SELECT $12::uuid, $1, $13::text = 'hit' WHERE $13::text IS NOT NULL AND $12::uuid IS NOT NULL),
     -- A miss caused by a rollout (metrics label cause="rollout", issue 23): the preset keeps a pool, yet none of its
     -- prebuilds was ever ready, so its version is new and still cold (what an immediate activation does).
     r AS (
       SELECT bump_preset_counter(p.id, 'missed_rollout', 1) FROM presets p
       WHERE p.id = $12::uuid AND $13::text = 'miss'
         AND (p.instances > 0 OR p.schedules <> '[]'::jsonb OR p.autoscaling IS NOT NULL)
         AND NOT EXISTS (SELECT 1 FROM workspaces pw JOIN builds pb ON pb.workspace_id = pw.id AND pb.reason = 'prebuild-create'
                         JOIN agents a ON a.build_id = pb.id AND a.ready WHERE pw.preset_id = p.id))
     SELECT bump_preset_counter($12::uuid, CASE WHEN $13::text = 'hit' THEN 'claimed' ELSE 'missed' END, 1), (SELECT count(*) FROM r)
     WHERE $13::text IS NOT NULL AND $12::uuid IS NOT NULL`,
    [
      buildId, build.workspaceId, build.buildNumber, build.templateVersionId, build.transition, build.initiatorId, build.reason,
      JSON.stringify(build.parameters), JSON.stringify(message.payload), message.idempotencyKey, message.priority, build.presetId, build.demand ?? null,
      message.queue, message.name,
    ],
  );
  return buildId;
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/**
 * Claims one eligible prebuild of the preset for `userId` (BEHAVIOUR.md §5) in ONE round trip (the claim_prebuild function of
 * migration 010): the workspace row is locked with SKIP LOCKED, so concurrent claimers never wait on each other and
 * never get the same workspace; a second statement (a fresh snapshot, under the lock) re-checks the owner and the
 * latest build while handing the workspace over, so a claim and a reconciler delete of the same prebuild can never
 * both succeed; the claim build, its outbox event and the claim counter follow in the same implicit transaction.
 * The preset row is never locked here (the reconciler locks preset then workspaces). `templateId`/`versionId` are the
 * caller's (possibly cached) active version: 'stale' when that is no longer true. The workspace is the claim's own
 * row, so the answer needs no re-read.
 */
export async function claimPrebuild(
  db: pg.Pool | pg.ClientBase,
  input: { presetId: string; userId: string; name: string; priority: number; templateId: string; versionId: string },
): Promise<{ outcome: 'claimed'; workspaceId: string; buildId: string; workspace: WorkspaceRow; source: 'hot' | 'thawed' } | { outcome: 'none' | 'stale' }> {
  const buildId = randomUUID();
  let rows: { outcome: 'claimed' | 'none' | 'stale'; workspace: Record<string, unknown> | null }[];
  try {
    ({ rows } = await db.query(`SELECT outcome, workspace FROM claim_prebuild($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
      input.presetId, SYSTEM_USER_ID, input.userId, input.name, input.templateId, input.versionId,
      buildId, buildRequestKey(buildId), input.priority, QUEUES.buildRequests, JOB_NAMES.buildRequested,
    ]));
  } catch (err) {
    // The whole statement fails (nothing is written): no claim happens under a conflicting name.
    if (isUniqueViolation(err)) throw new WorkspaceNameTakenError(`you already have a workspace named ${JSON.stringify(input.name)}`);
    throw err;
  }
  const row = rows[0];
  if (!row || row.outcome !== 'claimed' || !row.workspace) return { outcome: row?.outcome === 'stale' ? 'stale' : 'none' };
  // The standby columns say where the prebuild came from (claim_prebuild takes hot ones first); not part of the row.
  const { standby_want: want, frozen_at: frozenAt, standby_requested_at: _requestedAt, ...w } = row.workspace;
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(String(v)));
  const workspace = { ...w, created_at: date(w.created_at)!, last_used_at: date(w.last_used_at), claimed_at: date(w.claimed_at) } as WorkspaceRow;
  const source = want === 'frozen' || (frozenAt !== null && frozenAt !== undefined) ? 'thawed' : 'hot';
  return { outcome: 'claimed', workspaceId: workspace.id, buildId, workspace, source };
}

/**
 * A fresh workspace and its first build, when no prebuild could be claimed. Like the claim, the insert re-checks in
 * the same statement that `templateVersionId` is still the template's active version and that the template is neither
 * deprecated nor deleted (the caller's target may come from a per-replica cache): 'stale', with nothing written, when not.
 */
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
): Promise<{ outcome: 'created'; workspaceId: string; buildId: string } | { outcome: 'stale' }> {
  const workspaceId = randomUUID();
  try {
    const { rowCount } = await client.query(
      `INSERT INTO workspaces (id, organization_id, template_id, template_version_id, preset_id, owner_id, name, last_used_at)
       SELECT $1, $2, $3, $4, $5, $6, $7, now()
        WHERE EXISTS (SELECT 1 FROM templates t
                       WHERE t.id = $3 AND t.organization_id = $2 AND t.active_version_id = $4 AND NOT t.deprecated AND NOT t.deleted)`,
      [workspaceId, input.organizationId, input.templateId, input.templateVersionId, input.presetId, input.userId, input.name],
    );
    if (rowCount === 0) return { outcome: 'stale' };
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
  return { outcome: 'created', workspaceId, buildId };
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
