import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SYSTEM_USER_ID } from './constants.js';

/**
 * Writes the reconciler performs inside its per-preset transaction. Each function takes the transaction's
 * client; none commits.
 */

/** Per-preset mutual exclusion: a row lock held until commit, released by PostgreSQL if the holder dies. */
export async function lockPreset(client: pg.ClientBase, presetId: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT id FROM presets WHERE id = $1 FOR UPDATE', [presetId]);
  return (rowCount ?? 0) > 0;
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
 * deletable per SPEC §4.4: owned by the system user, not deleted, latest build a succeeded `start`.
 * Then inserts one pending `delete` build for each. Returns the builds inserted.
 */
export async function insertDeleteBuilds(client: pg.ClientBase, workspaceIds: readonly string[]): Promise<NewBuild[]> {
  if (workspaceIds.length === 0) return [];
  await client.query('SELECT id FROM workspaces WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [workspaceIds]);
  // Re-check after the locks are held; a new statement sees any claim committed while we waited.
  const { rows } = await client.query<{ id: string; template_version_id: string; build_number: number; parameters: Record<string, string> }>(
    `SELECT w.id, w.template_version_id, b.build_number, b.parameters
     FROM workspaces w
     CROSS JOIN LATERAL (SELECT build_number, transition, job_status, parameters FROM builds
                         WHERE workspace_id = w.id ORDER BY build_number DESC LIMIT 1) b
     WHERE w.id = ANY($1::uuid[]) AND w.owner_id = $2 AND NOT w.deleted
       AND b.transition = 'start' AND b.job_status = 'succeeded'
     ORDER BY w.id`,
    [workspaceIds, SYSTEM_USER_ID],
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

// One statement: the workspaces, their pending build #1, the builds' in-flight slots and the preset's counter.
const INSERT_PREBUILDS_SQL = `
WITH w AS (
  INSERT INTO workspaces (id, organization_id, template_id, template_version_id, preset_id, owner_id, name)
  SELECT id, $2, $3, $4, $5, $6, name FROM unnest($1::uuid[], $7::text[]) AS x(id, name)
  RETURNING id
),
b AS (
  INSERT INTO builds (id, workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status, parameters)
  SELECT bid, ws, 1, $4, 'start', $6, 'prebuild-create', 'pending', $9::jsonb FROM unnest($8::uuid[], $1::uuid[]) AS x(bid, ws)
  RETURNING id
),
s AS (
  UPDATE inflight_slots SET build_id = x.bid FROM unnest($10::int[], $8::uuid[]) AS x(slot, bid)
  WHERE inflight_slots.slot = x.slot AND inflight_slots.build_id IS NULL
  RETURNING 1
),
c AS (
  INSERT INTO preset_counters (preset_id, name, value) VALUES ($5, 'created', cardinality($1::uuid[]))
  ON CONFLICT (preset_id, name) DO UPDATE SET value = preset_counters.value + EXCLUDED.value
)
SELECT (SELECT count(*) FROM b)::int AS builds, (SELECT count(*) FROM s)::int AS slots`;

/**
 * Inserts one prebuild workspace with a pending build #1 (`start`, reason prebuild-create) per slot, each build
 * holding its slot (claimed by claimInflightSlots in the same transaction), in one round trip. Without slots
 * (`count` only), the builds hold none: fixtures and tools that bypass the cap.
 */
export async function insertPrebuilds(
  client: pg.ClientBase,
  target: PrebuildTarget,
  count: number,
  parameters: Record<string, string>,
  slots: readonly number[] = [],
): Promise<NewBuild[]> {
  if (count <= 0) return [];
  if (slots.length > 0 && slots.length !== count) throw new Error(`insertPrebuilds: ${count} prebuilds but ${slots.length} slots`);
  const builds: NewBuild[] = Array.from({ length: count }, () => ({
    buildId: randomUUID(),
    workspaceId: randomUUID(),
    buildNumber: 1,
    templateVersionId: target.templateVersionId,
    transition: 'start',
    parameters,
  }));
  const workspaceIds = builds.map((b) => b.workspaceId);
  const { rows } = await client.query<{ builds: number; slots: number }>(INSERT_PREBUILDS_SQL, [
    workspaceIds,
    target.organizationId,
    target.templateId,
    target.templateVersionId,
    target.presetId,
    SYSTEM_USER_ID,
    workspaceIds.map(() => prebuildName()),
    builds.map((b) => b.buildId),
    JSON.stringify(parameters),
    slots,
  ]);
  // A slot not held by this transaction would break the cap: abort (the caller's transaction rolls back).
  if (rows[0]?.slots !== slots.length) throw new Error(`insertPrebuilds: ${slots.length} slots claimed but ${rows[0]?.slots ?? 0} assigned`);
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
  await client.query(
    `INSERT INTO preset_counters (preset_id, name, value) VALUES ($1, 'failed', 1)
     ON CONFLICT (preset_id, name) DO UPDATE SET value = preset_counters.value + 1`,
    [target.presetId],
  );
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
     SELECT DISTINCT w.preset_id FROM workspaces w
     CROSS JOIN LATERAL (SELECT transition, job_status FROM builds WHERE workspace_id = w.id
                         ORDER BY build_number DESC LIMIT 1) b
     WHERE w.owner_id = $1 AND NOT w.deleted AND w.preset_id IS NOT NULL
       AND (b.job_status IN ('pending', 'running') OR (b.transition = 'start' AND b.job_status = 'succeeded'))`,
    [SYSTEM_USER_ID],
  );
  return rows.map((r) => r.id);
}
