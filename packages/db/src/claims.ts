import type pg from 'pg';
import { BUILD_PRIORITY } from '@warmpool/contracts';
import type { ClaimMode, ClaimSource, DurationSample } from '@warmpool/core';
import { SYSTEM_USER_ID } from './constants.js';
import { bumpPresetCounter } from './counters.js';
import { requestBuild, WorkspaceNameTakenError } from './workspaces.js';

/**
 * Claims with a wait budget (BEHAVIOUR.md §5.1): the inputs of the decision, reservations of in-flight prebuilds,
 * the claim record of a create made with options, and what a build result does to an open claim. Migration 022.
 */

/** What the claim decision reads for one preset, in one statement. */
export type ReservationInputs = {
  /** The preset keeps prebuilds at all (instances, schedules or autoscaling); `require` is refused otherwise. */
  keepsPrebuilds: boolean;
  history: { preset: DurationSample[]; version: DurationSample[]; template: DurationSample[] };
  /** Live prebuilds of the preset whose create is in flight, with how long ago each was requested. */
  inflight: { workspaceId: string; elapsedMs: number }[];
  /** Human builds (claims, user starts) not yet taken by a provisioner: a cold build waits behind them. */
  humanBuildsAhead: number;
};

const HISTORY = (column: string) => `COALESCE((SELECT json_agg(json_build_object('totalMs', d.total_ms, 'queuedMs', d.queued_ms))
    FROM (SELECT total_ms, queued_ms FROM build_durations WHERE ${column} ORDER BY usable_at DESC LIMIT 100) d), '[]')`;

export async function loadReservationInputs(db: pg.Pool | pg.ClientBase, presetId: string): Promise<ReservationInputs | undefined> {
  const { rows } = await db.query<ReservationInputs>(
    `SELECT (p.instances > 0 OR jsonb_array_length(p.schedules) > 0 OR p.autoscaling IS NOT NULL) AS "keepsPrebuilds",
            json_build_object(
              'preset', ${HISTORY('preset_id = p.id')},
              'version', ${HISTORY('template_version_id = p.template_version_id')},
              'template', ${HISTORY('template_id = v.template_id')}) AS history,
            COALESCE((SELECT json_agg(json_build_object('workspaceId', l.id,
                       'elapsedMs', greatest(0, extract(epoch FROM now() - l.build_created_at) * 1000)::bigint))
              FROM prebuild_workspaces l
              WHERE l.preset_id = p.id AND l.template_version_id = p.template_version_id AND l.transition = 'start'
                AND l.reason = 'prebuild-create'
                AND (l.job_status IN ('pending', 'running') OR (l.running AND NOT l.ready AND EXISTS (SELECT 1 FROM agents a WHERE a.build_id = l.build_id)))), '[]') AS inflight,
            (SELECT count(*)::int FROM builds b WHERE b.job_status = 'pending' AND b.reason IN ('claim', 'user')) AS "humanBuildsAhead"
     FROM presets p JOIN template_versions v ON v.id = p.template_version_id WHERE p.id = $1`,
    [presetId],
  );
  return rows[0];
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/**
 * Reserves the first still-free candidate (reserve_prebuild, migration 022: one round trip; the workspace becomes
 * the user's at once). 'stale' when the caller's (possibly cached) version is no longer the active one.
 */
export async function reservePrebuild(
  db: pg.Pool | pg.ClientBase,
  input: { candidates: { workspaceId: string; predictedMs: number }[]; presetId: string; userId: string; name: string; templateId: string; versionId: string; mode: ClaimMode; budgetMs: number },
): Promise<{ outcome: 'reserved'; workspaceId: string; predictedMs: number } | { outcome: 'none' | 'stale' }> {
  let rows: { outcome: 'reserved' | 'none' | 'stale'; workspace_id: string | null; predicted_ms: number | null }[];
  try {
    ({ rows } = await db.query(`SELECT outcome, workspace_id, predicted_ms FROM reserve_prebuild($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
      input.candidates.map((c) => c.workspaceId), input.candidates.map((c) => Math.round(c.predictedMs)), input.presetId, SYSTEM_USER_ID,
      input.userId, input.name, input.templateId, input.versionId, input.mode, input.budgetMs,
    ]));
  } catch (err) {
    if (isUniqueViolation(err)) throw new WorkspaceNameTakenError(`you already have a workspace named ${JSON.stringify(input.name)}`);
    throw err;
  }
  const row = rows[0];
  if (row?.outcome === 'reserved' && row.workspace_id) return { outcome: 'reserved', workspaceId: row.workspace_id, predictedMs: row.predicted_ms ?? 0 };
  return { outcome: row?.outcome === 'stale' ? 'stale' : 'none' };
}

/** Records how a create with claim options was served from the pool or cold (a reservation records itself). */
export async function recordClaim(
  db: pg.Pool | pg.ClientBase,
  input: { workspaceId: string; presetId: string; mode: ClaimMode; budgetMs: number; source: Exclude<ClaimSource, 'reserved'>; buildId: string; predictedMs: number | null },
): Promise<void> {
  await db.query(
    `INSERT INTO workspace_claims (workspace_id, preset_id, mode, budget_ms, source, state, build_id, predicted_ms, deadline)
     VALUES ($1, $2, $3, $4::int, $5, $6, $7, $8, now() + make_interval(secs => $4::int / 1000.0))`,
    [input.workspaceId, input.presetId, input.mode, input.budgetMs, input.source, input.source === 'pool' ? 'claiming' : 'building', input.buildId, input.predictedMs === null ? null : Math.round(input.predictedMs)],
  );
}

/** A claim that reached usable: what the metrics observe. */
export type UsableClaim = { source: ClaimSource; mode: ClaimMode; predictedMs: number | null; actualMs: number; fallback: string | null };
/** What a build result did to an open claim, if anything. */
export type ClaimFollowUp =
  | { kind: 'none' }
  | { kind: 'claim-requested'; buildId: string }
  | { kind: 'fallback'; buildId: string; reason: FallbackReason }
  | { kind: 'usable'; claim: UsableClaim }
  | { kind: 'failed' };

export type FallbackReason = 'failed' | 'canceled' | 'lost' | 'overrun';
export type ClaimEvent = { kind: 'usable'; at: Date } | { kind: 'failed' | 'canceled' | 'lost'; at: Date };

type OpenClaim = {
  workspace_id: string;
  preset_id: string;
  mode: ClaimMode;
  source: ClaimSource;
  state: 'waiting' | 'claiming' | 'building';
  build_id: string;
  fallback_reason: string | null;
  predicted_ms: number | null;
  requested_at: Date;
  owner_id: string;
  template_version_id: string;
  parameters: Record<string, string>;
  latest_number: number;
};

const OPEN_CLAIM = `
  SELECT c.workspace_id, c.preset_id, c.mode, c.source, c.state, c.build_id, c.fallback_reason, c.predicted_ms, c.requested_at,
         w.owner_id, b.template_version_id, b.parameters,
         (SELECT max(build_number) FROM builds WHERE workspace_id = c.workspace_id) AS latest_number
  FROM workspace_claims c JOIN workspaces w ON w.id = c.workspace_id JOIN builds b ON b.id = c.build_id
  WHERE c.state IN ('waiting', 'claiming', 'building') AND NOT w.deleted`;

/** A reserved workspace whose prebuild will not be usable in time builds cold: a user start at human priority. */
async function fallBack(client: pg.ClientBase, claim: OpenClaim, reason: FallbackReason): Promise<ClaimFollowUp> {
  const buildId = await requestBuild(client, {
    workspaceId: claim.workspace_id,
    buildNumber: claim.latest_number + 1,
    templateVersionId: claim.template_version_id,
    transition: 'start',
    initiatorId: claim.owner_id,
    reason: 'user',
    parameters: claim.parameters,
    presetId: claim.preset_id,
    priority: BUILD_PRIORITY.human,
    // The pool could not serve it after all: a miss, as a cold create would have been.
    demand: 'miss',
  });
  await client.query(`UPDATE workspace_claims SET source = 'cold', state = 'building', build_id = $2, fallback_reason = $3 WHERE workspace_id = $1`, [claim.workspace_id, buildId, reason]);
  return { kind: 'fallback', buildId, reason };
}

/**
 * What a result of `buildId` does to its workspace's open claim, in the result's transaction (the caller holds the
 * build's row lock, which reserve_prebuild also takes, so a reservation and the result that makes its prebuild
 * usable are serialized): the reserved create usable → the claim build (claim hook) is requested; the claim or
 * cold build usable → the claim is usable (time recorded); the reserved create failed, canceled or lost → a cold
 * build of the same workspace; a claim or cold build failed → the claim failed.
 */
export async function followClaim(client: pg.ClientBase, buildId: string, event: ClaimEvent): Promise<ClaimFollowUp> {
  const { rows } = await client.query<OpenClaim>(`${OPEN_CLAIM} AND c.build_id = $1 FOR UPDATE OF c`, [buildId]);
  const claim = rows[0];
  if (!claim) return { kind: 'none' };
  if (claim.state === 'waiting') {
    if (event.kind !== 'usable') return fallBack(client, claim, event.kind);
    const claimBuild = await requestBuild(client, {
      workspaceId: claim.workspace_id,
      buildNumber: claim.latest_number + 1,
      templateVersionId: claim.template_version_id,
      transition: 'start',
      initiatorId: claim.owner_id,
      reason: 'claim',
      parameters: claim.parameters,
      presetId: claim.preset_id,
      priority: BUILD_PRIORITY.human,
    });
    // The demand hit is recorded by the claim build's insert (trigger of migration 011), the counter here.
    await bumpPresetCounter(client, claim.preset_id, 'claimed');
    await client.query(`UPDATE workspaces SET claimed_at = $2 WHERE id = $1`, [claim.workspace_id, event.at]);
    await client.query(`UPDATE workspace_claims SET state = 'claiming', build_id = $2 WHERE workspace_id = $1`, [claim.workspace_id, claimBuild]);
    return { kind: 'claim-requested', buildId: claimBuild };
  }
  if (event.kind === 'usable') {
    await client.query(`UPDATE workspace_claims SET state = 'usable', usable_at = $2 WHERE workspace_id = $1`, [claim.workspace_id, event.at]);
    const actualMs = Math.max(0, event.at.getTime() - claim.requested_at.getTime());
    return { kind: 'usable', claim: { source: claim.source, mode: claim.mode, predictedMs: claim.predicted_ms, actualMs, fallback: claim.fallback_reason } };
  }
  // A lost claimed container is rebuilt by the claim build itself; only a failed build ends the claim.
  if (event.kind === 'lost') return { kind: 'none' };
  await client.query(`UPDATE workspace_claims SET state = 'failed' WHERE workspace_id = $1`, [claim.workspace_id]);
  return { kind: 'failed' };
}

/** A workspace's resources vanished: a reserved workspace waiting for its create falls back to a cold build. */
export async function followLostWorkspace(client: pg.ClientBase, workspaceId: string, at: Date): Promise<ClaimFollowUp> {
  const { rows } = await client.query<{ build_id: string }>(
    `SELECT c.build_id FROM workspace_claims c JOIN workspaces w ON w.id = c.workspace_id WHERE c.workspace_id = $1 AND c.state = 'waiting' FOR UPDATE OF w, c`,
    [workspaceId],
  );
  if (!rows[0]) return { kind: 'none' };
  return followClaim(client, rows[0].build_id, { kind: 'lost', at });
}

/**
 * `prefer` reservations past their deadline whose create is still waiting in the provisioner's queue fall back to
 * a cold build: a user start at human priority goes ahead of the queued create. A create the provisioner already
 * works on is kept: builds of one workspace run in order, so a cold build of it could only start after that one
 * (DECISIONS.md). Locks with SKIP LOCKED (a result being applied to the create decides instead).
 */
export async function fallBackOverdueReservations(client: pg.ClientBase, limit = 100): Promise<{ workspaceId: string; presetId: string; buildId: string }[]> {
  const { rows } = await client.query<OpenClaim>(
    `${OPEN_CLAIM} AND c.state = 'waiting' AND c.mode = 'prefer' AND c.deadline <= now() AND b.job_status = 'pending'
     ORDER BY c.deadline LIMIT $1 FOR UPDATE OF c, b SKIP LOCKED`,
    [limit],
  );
  const done: { workspaceId: string; presetId: string; buildId: string }[] = [];
  for (const claim of rows) {
    const follow = await fallBack(client, claim, 'overrun');
    if (follow.kind === 'fallback') done.push({ workspaceId: claim.workspace_id, presetId: claim.preset_id, buildId: follow.buildId });
  }
  return done;
}

/** When the next waiting reservation's deadline passes (the reconciler arms a timer for it), or null. */
export async function nextReservationDeadline(db: pg.Pool | pg.ClientBase): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>(`SELECT min(deadline) AS at FROM workspace_claims WHERE state = 'waiting'`);
  return rows[0]?.at ?? null;
}

/** Records how long a prebuild create took to become usable (record_build_duration: pruned to 100 per preset). */
export async function recordBuildDuration(client: pg.ClientBase, buildId: string, at: Date): Promise<void> {
  await client.query('SELECT record_build_duration($1, $2)', [buildId, at]);
}
