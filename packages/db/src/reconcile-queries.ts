import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SYSTEM_USER_ID } from './constants.js';
import { activeVersionSql } from './active.js';
import { bumpPresetCounter } from './counters.js';

/**
 * Writes the reconciler performs inside its per-preset transaction. Each function takes the transaction's
 * client; none commits.
 */

/** Per-preset mutual exclusion: a row lock held until commit, released by PostgreSQL if the holder dies. */
export async function lockPreset(client: pg.ClientBase, presetId: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT id FROM presets WHERE id = $1 FOR UPDATE', [presetId]);
  return (rowCount ?? 0) > 0;
}

/** Locks the presets nobody else holds (id order) and returns their ids; the others are left to their holders. */
export async function lockFreePresets(client: pg.ClientBase, presetIds: readonly string[]): Promise<string[]> {
  const { rows } = await client.query<{ id: string }>('SELECT id FROM presets WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE SKIP LOCKED', [presetIds]);
  return rows.map((r) => r.id);
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
 * deletable per BEHAVIOUR.md §4.4: still a running prebuild (view `prebuild_workspaces`: owned by the system user, not
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

// One statement for any number of presets: the workspaces, their pending build #1, the builds' in-flight slots
// and each preset's `created` counter.
const INSERT_PREBUILDS_SQL = `
WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::jsonb[], $9::int[])
    AS x(ws, bid, preset, org, tpl, ver, name, params, slot)
),
w AS (
  INSERT INTO workspaces (id, organization_id, template_id, template_version_id, preset_id, owner_id, name)
  SELECT ws, org, tpl, ver, preset, $10, name FROM x
  RETURNING id
),
b AS (
  INSERT INTO builds (id, workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status, parameters)
  SELECT bid, ws, 1, ver, 'start', $10, 'prebuild-create', 'pending', params FROM x
  RETURNING id
),
s AS (
  UPDATE inflight_slots SET build_id = x.bid FROM x
  WHERE inflight_slots.slot = x.slot AND inflight_slots.build_id IS NULL
  RETURNING 1
),
c AS (
  INSERT INTO preset_counters (preset_id, name, value) SELECT preset, 'created', count(*) FROM x GROUP BY preset
  ON CONFLICT (preset_id, name, shard) DO UPDATE SET value = preset_counters.value + EXCLUDED.value
)
SELECT (SELECT count(*) FROM b)::int AS builds, (SELECT count(*) FROM s)::int AS slots`;

export type PrebuildBatchItem = {
  target: PrebuildTarget;
  count: number;
  parameters: Record<string, string>;
  /** In-flight slots claimed in this transaction, one per prebuild; empty for fixtures that bypass the cap. */
  slots?: readonly number[];
};

/**
 * Inserts prebuild workspaces, each with a pending build #1 (`start`, reason prebuild-create) that holds its
 * slot, for any number of presets in one round trip. Returns the builds per item, in item order.
 */
export async function insertPrebuildsBatch(client: pg.ClientBase, items: readonly PrebuildBatchItem[]): Promise<NewBuild[][]> {
  const perItem = items.map((item) => {
    const slots = item.slots ?? [];
    if (slots.length > 0 && slots.length !== item.count) throw new Error(`insertPrebuilds: ${item.count} prebuilds but ${slots.length} slots`);
    return Array.from({ length: Math.max(0, item.count) }, (): NewBuild => ({
      buildId: randomUUID(),
      workspaceId: randomUUID(),
      buildNumber: 1,
      templateVersionId: item.target.templateVersionId,
      transition: 'start',
      parameters: item.parameters,
    }));
  });
  const rows = items.flatMap((item, i) => perItem[i]!.map((b, k) => ({ item, b, slot: item.slots?.[k] ?? null })));
  if (rows.length === 0) return perItem;
  const col = <T>(f: (r: (typeof rows)[number]) => T) => rows.map(f);
  const { rows: result } = await client.query<{ builds: number; slots: number }>(INSERT_PREBUILDS_SQL, [
    col((r) => r.b.workspaceId),
    col((r) => r.b.buildId),
    col((r) => r.item.target.presetId),
    col((r) => r.item.target.organizationId),
    col((r) => r.item.target.templateId),
    col((r) => r.item.target.templateVersionId),
    col(() => prebuildName()),
    col((r) => JSON.stringify(r.item.parameters)),
    col((r) => r.slot),
    SYSTEM_USER_ID,
  ]);
  const expected = rows.filter((r) => r.slot !== null).length;
  // A slot not held by this transaction would break the cap: abort (the caller's transaction rolls back).
  if (result[0]?.slots !== expected) throw new Error(`insertPrebuilds: ${expected} slots claimed but ${result[0]?.slots ?? 0} assigned`);
  return perItem;
}

/** insertPrebuildsBatch for one preset. */
export async function insertPrebuilds(
  client: pg.ClientBase,
  target: PrebuildTarget,
  count: number,
  parameters: Record<string, string>,
  slots: readonly number[] = [],
): Promise<NewBuild[]> {
  const [builds] = await insertPrebuildsBatch(client, [{ target, count, parameters, slots }]);
  return builds ?? [];
}

/**
 * Records a build request that could not even be created (e.g. a missing required parameter) as a prebuild
 * whose build #1 failed at once, so backoff and the failure limit apply to it (BEHAVIOUR.md §4.3).
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
     WHERE ${activeVersionSql('p.template_version_id')}
     UNION
     SELECT DISTINCT preset_id FROM prebuild_workspaces
     WHERE preset_id IS NOT NULL AND (running OR job_status IN ('pending', 'running'))`,
  );
  return rows.map((r) => r.id);
}
