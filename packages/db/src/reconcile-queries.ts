import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SYSTEM_USER_ID } from './constants.js';
import { bumpPresetCounter } from './counters.js';

/**
 * Writes the reconciler performs inside its per-preset transaction. Each function takes the transaction's
 * client; none commits.
 */

// Arbitrary constant shared by every reconciler: serialises the in-flight cap check of prebuild creates.
export const INFLIGHT_CAP_LOCK_KEY = 7_270_002;

/** Per-preset mutual exclusion: a row lock held until commit, released by PostgreSQL if the holder dies. */
export async function lockPreset(client: pg.ClientBase, presetId: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT id FROM presets WHERE id = $1 FOR UPDATE', [presetId]);
  return (rowCount ?? 0) > 0;
}

/** Takes the global cap lock (until commit) and returns how many more prebuild creates may start now. */
export async function reserveInflightSlots(client: pg.ClientBase, cap: number): Promise<number> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [INFLIGHT_CAP_LOCK_KEY]);
  // A separate statement: under READ COMMITTED it sees every create committed before we got the lock.
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM builds WHERE reason = 'prebuild-create' AND job_status IN ('pending', 'running')`,
  );
  return Math.max(0, cap - (rows[0]?.n ?? 0));
}

export type NewBuild = {
  buildId: string;
  workspaceId: string;
  buildNumber: number;
  templateVersionId: string;
  transition: 'start' | 'stop' | 'delete';
  parameters: Record<string, string>;
};

/**
 * Locks the given prebuilds (in id order, so two reconcilers never deadlock) and keeps those that are still
 * deletable per SPEC §4.4: still a running prebuild (view `prebuild_workspaces`: owned by the system user, not
 * deleted, latest build a succeeded `start`).
 * Then inserts one pending `delete` build for each. Returns the builds inserted.
 */
export async function insertDeleteBuilds(client: pg.ClientBase, workspaceIds: readonly string[]): Promise<NewBuild[]> {
  if (workspaceIds.length === 0) return [];
  await client.query('SELECT id FROM workspaces WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [workspaceIds]);
  // Re-check after the locks are held; a new statement sees any claim committed while we waited.
  const { rows } = await client.query<{ id: string; template_version_id: string; build_number: number; parameters: Record<string, string> }>(
    `SELECT id, template_version_id, build_number, build_parameters AS parameters
     FROM prebuild_workspaces WHERE id = ANY($1::uuid[]) AND running
     ORDER BY id`,
    [workspaceIds],
  );
  const builds: NewBuild[] = rows.map((r) => ({
    buildId: randomUUID(),
    workspaceId: r.id,
    buildNumber: r.build_number + 1,
    templateVersionId: r.template_version_id,
    transition: 'delete',
    parameters: r.parameters ?? {},
  }));
  await insertBuilds(client, builds, 'prebuild-delete');
  return builds;
}

async function insertBuilds(
  client: pg.ClientBase,
  builds: readonly NewBuild[],
  reason: 'prebuild-create' | 'prebuild-delete',
): Promise<void> {
  if (builds.length === 0) return;
  await client.query(
    `INSERT INTO builds (id, workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status, parameters)
     SELECT id, ws, n, v, t, $6, $7, 'pending', p
     FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::uuid[], $5::text[], $8::jsonb[]) AS x(id, ws, n, v, t, p)`,
    [
      builds.map((b) => b.buildId),
      builds.map((b) => b.workspaceId),
      builds.map((b) => b.buildNumber),
      builds.map((b) => b.templateVersionId),
      builds.map((b) => b.transition),
      SYSTEM_USER_ID,
      reason,
      builds.map((b) => JSON.stringify(b.parameters)),
    ],
  );
}

export type PrebuildTarget = {
  presetId: string;
  organizationId: string;
  templateId: string;
  templateVersionId: string;
};

/** `prebuild-<8 hex>`: short, unique enough among one owner's live workspaces, recognisable in listings. */
export function prebuildName(): string {
  return `prebuild-${randomBytes(4).toString('hex')}`;
}

async function insertPrebuildWorkspaces(client: pg.ClientBase, target: PrebuildTarget, ids: readonly string[]): Promise<void> {
  await client.query(
    `INSERT INTO workspaces (id, organization_id, template_id, template_version_id, preset_id, owner_id, name)
     SELECT id, $2, $3, $4, $5, $6, name FROM unnest($1::uuid[], $7::text[]) AS x(id, name)`,
    [ids, target.organizationId, target.templateId, target.templateVersionId, target.presetId, SYSTEM_USER_ID, ids.map(() => prebuildName())],
  );
}

/** Inserts `count` prebuild workspaces, each with a pending build #1 (`start`, reason prebuild-create). */
export async function insertPrebuilds(
  client: pg.ClientBase,
  target: PrebuildTarget,
  count: number,
  parameters: Record<string, string>,
): Promise<NewBuild[]> {
  if (count <= 0) return [];
  const builds: NewBuild[] = Array.from({ length: count }, () => ({
    buildId: randomUUID(),
    workspaceId: randomUUID(),
    buildNumber: 1,
    templateVersionId: target.templateVersionId,
    transition: 'start',
    parameters,
  }));
  await insertPrebuildWorkspaces(client, target, builds.map((b) => b.workspaceId));
  await insertBuilds(client, builds, 'prebuild-create');
  await bumpPresetCounter(client, target.presetId, 'created', count);
  return builds;
}

/**
 * Records a build request that could not even be created (e.g. a missing required parameter) as a prebuild
 * whose build #1 failed at once, so backoff and the failure limit apply to it (SPEC §4.3).
 */
export async function insertFailedPrebuild(
  client: pg.ClientBase,
  target: PrebuildTarget,
  parameters: Record<string, string>,
  error: string,
): Promise<{ workspaceId: string; buildId: string }> {
  const workspaceId = randomUUID();
  const buildId = randomUUID();
  await insertPrebuildWorkspaces(client, target, [workspaceId]);
  await client.query(
    `INSERT INTO builds (id, workspace_id, build_number, template_version_id, transition, initiator_id, reason,
                         job_status, parameters, error, retryable, completed_at)
     VALUES ($1, $2, 1, $3, 'start', $4, 'prebuild-create', 'failed', $5, $6, false, now())`,
    [buildId, workspaceId, target.templateVersionId, SYSTEM_USER_ID, JSON.stringify(parameters), error],
  );
  await bumpPresetCounter(client, target.presetId, 'failed');
  return { workspaceId, buildId };
}

/**
 * Moves a healthy preset to `status`. Returns the transition instant when this call made the change, or null
 * when the preset was not healthy (someone else already transitioned it): callers emit the event only then.
 */
export async function transitionPresetStatus(
  client: pg.ClientBase,
  presetId: string,
  status: 'hard_limited' | 'validation_failed',
  reason: string,
): Promise<Date | null> {
  const { rows } = await client.query<{ status_changed_at: Date }>(
    `UPDATE presets SET status = $2, status_reason = $3, status_changed_at = now()
     WHERE id = $1 AND status = 'healthy' RETURNING status_changed_at`,
    [presetId, status, reason],
  );
  return rows[0]?.status_changed_at ?? null;
}

/** Stores (or clears, with null) the preset's schedule problem; a no-op when unchanged. */
export async function setScheduleError(db: pg.Pool | pg.ClientBase, presetId: string, problem: string | null): Promise<void> {
  await db.query('UPDATE presets SET schedule_error = $2 WHERE id = $1 AND schedule_error IS DISTINCT FROM $2', [presetId, problem]);
}

/**
 * Presets the periodic tick reconciles: every active preset (version active, template neither deleted nor
 * deprecated), plus any preset that still has running or in-progress prebuilds (inactive pools to drain).
 */
export async function presetsNeedingAttention(db: pg.Pool | pg.ClientBase): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT p.id FROM presets p
     JOIN templates t ON t.active_version_id = p.template_version_id
     WHERE NOT t.deleted AND NOT t.deprecated
     UNION
     SELECT DISTINCT preset_id FROM prebuild_workspaces
     WHERE preset_id IS NOT NULL AND (running OR job_status IN ('pending', 'running'))`,
  );
  return rows.map((r) => r.id);
}
