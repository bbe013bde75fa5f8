import type pg from 'pg';
import type { PresetRecord } from '@warmpool/core';
import { SYSTEM_USER_ID } from './constants.js';

/** Everything the reconciler needs about one preset, loaded by ONE statement (see SNAPSHOT_SQL): the core's PresetRecord,
 * plus whether the preset waits for in-flight cap slots (a demand row, cleared once it wants no creates). */
export type PresetSnapshotRow = PresetRecord & { waiting: boolean };

/** Backoff windows and failure limits never need more history than this. */
export const POPULATION_LIMIT = 200;

// $1 = preset id, $2 = system user id, $3 = population limit.
// `latest` is the latest build of every prebuild of the preset (view prebuild_workspaces, migration 006); each
// section of the answer is a filter over it, so the whole snapshot costs one round trip and one consistent MVCC
// snapshot. Expiry is left to the core (`isExpired`, at the caller's `now`); `invalidated` comes from SQL.
const SNAPSHOT_SQL = `
WITH p AS (
  SELECT p.id, p.name, p.instances, p.ttl_seconds, p.timezone, p.schedules, p.parameters, p.status,
         p.status_changed_at, p.failures_reset_at, p.invalidated_at, p.schedule_error, p.autoscaling, p.autoscaling_error, p.template_version_id,
         v.name AS version_name, v.parameters AS declarations,
         t.id AS template_id, t.name AS template_name, t.deleted AS template_deleted, t.deprecated AS template_deprecated,
         (t.active_version_id IS NOT DISTINCT FROM p.template_version_id) AS using_active_version,
         o.id AS organization_id, o.name AS organization_name,
         r.id AS rollout_id, r.deadline_at AS rollout_deadline_at, r.surge_builds AS rollout_surge_builds
  FROM presets p
  JOIN template_versions v ON v.id = p.template_version_id
  JOIN templates t ON t.id = v.template_id
  JOIN organizations o ON o.id = t.organization_id
  LEFT JOIN template_rollouts r ON r.template_id = t.id AND r.state = 'staged' AND r.version_id = p.template_version_id
  WHERE p.id = $1
),
latest AS (
  SELECT id AS workspace_id, created_at AS workspace_created_at, build_id, transition, job_status, initiator_id,
         build_template_version_id AS template_version_id, build_created_at AS created_at,
         build_completed_at AS completed_at, build_error AS error, running, ready
  FROM prebuild_workspaces WHERE preset_id = $1
)
SELECT json_build_object(
  'preset', (SELECT json_build_object(
      'id', id, 'name', name, 'instances', instances, 'ttlSeconds', ttl_seconds, 'timezone', timezone,
      'schedules', schedules, 'parameters', parameters, 'status', status, 'statusChangedAt', status_changed_at,
      'scheduleError', schedule_error, 'autoscaling', autoscaling, 'autoscalingError', autoscaling_error, 'templateVersionId', template_version_id, 'versionName', version_name,
      'declarations', declarations, 'templateId', template_id, 'templateName', template_name,
      'templateDeleted', template_deleted, 'templateDeprecated', template_deprecated,
      'usingActiveVersion', using_active_version, 'organizationId', organization_id,
      'organizationName', organization_name) FROM p),
  'paused', reconciliation_paused(),
  -- A staged version's surge budget is template-wide: the staged builds in flight over all its presets.
  'rollout', (SELECT json_build_object('id', rollout_id, 'deadlineAt', rollout_deadline_at, 'surgeBuilds', rollout_surge_builds,
        'stagedInflight', (SELECT count(*) FROM presets sp JOIN prebuild_workspaces pw ON pw.preset_id = sp.id
                           WHERE sp.template_version_id = p.template_version_id AND pw.transition = 'start'
                             AND pw.job_status IN ('pending', 'running')))
      FROM p WHERE rollout_id IS NOT NULL),
  'waiting', EXISTS (SELECT 1 FROM prebuild_demand WHERE preset_id = $1),
  'running', (SELECT COALESCE(json_agg(json_build_object(
        'id', l.workspace_id,
        'createdAt', l.workspace_created_at,
        'ready', l.ready,
        'invalidated', prebuild_invalidated(l.workspace_created_at, p.invalidated_at)
      ) ORDER BY l.workspace_created_at, l.workspace_id), '[]'::json)
      FROM latest l, p WHERE l.running),
  'inProgress', (SELECT COALESCE(json_agg(json_build_object('transition', transition, 'count', n)), '[]'::json)
      FROM (SELECT l.transition, count(*) AS n FROM latest l, p
            WHERE l.initiator_id = $2 AND l.job_status IN ('pending', 'running') AND (p.using_active_version OR p.rollout_id IS NOT NULL)
              AND l.template_version_id = p.template_version_id
            GROUP BY l.transition) c),
  'population', (SELECT COALESCE(json_agg(json_build_object(
        'status', job_status, 'createdAt', created_at, 'completedAt', completed_at, 'error', error)
      ORDER BY created_at DESC, build_id DESC), '[]'::json)
      FROM (SELECT l.* FROM latest l, p
            WHERE l.transition = 'start' AND (p.using_active_version OR p.rollout_id IS NOT NULL) AND l.template_version_id = p.template_version_id
              AND (p.failures_reset_at IS NULL OR l.created_at > p.failures_reset_at)
            ORDER BY l.created_at DESC, l.build_id DESC LIMIT $3) pop)
) AS snapshot`;

// The same statement for many presets at once: the per-preset query as a LATERAL subquery over an id list.
const MANY_SNAPSHOTS_SQL = `SELECT s.snapshot FROM unnest($1::uuid[]) AS ids(id) CROSS JOIN LATERAL (${SNAPSHOT_SQL.replace(/\$1(?!\d)/g, 'ids.id')}) s`;

type Json = Record<string, unknown>;
const date = (v: unknown): Date => new Date(String(v));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));

/**
 * Loads one preset's snapshot in a single round trip (works with a pool or a transaction's client).
 * Returns null when the preset does not exist.
 */
export async function loadPresetSnapshot(db: pg.Pool | pg.ClientBase, presetId: string): Promise<PresetSnapshotRow | null> {
  const { rows } = await db.query<{ snapshot: Json }>(SNAPSHOT_SQL, [presetId, SYSTEM_USER_ID, POPULATION_LIMIT]);
  return rows[0]?.snapshot ? toSnapshotRow(rows[0].snapshot) : null;
}

/**
 * Snapshots of many presets in one round trip (the scheduler screens whole batches this way, so a tick costs
 * one query per batch instead of one job per preset). Unknown ids are absent from the answer.
 */
export async function loadPresetSnapshots(db: pg.Pool | pg.ClientBase, presetIds: readonly string[]): Promise<PresetSnapshotRow[]> {
  if (presetIds.length === 0) return [];
  const { rows } = await db.query<{ snapshot: Json }>(MANY_SNAPSHOTS_SQL, [presetIds, SYSTEM_USER_ID, POPULATION_LIMIT]);
  return rows.flatMap((r) => {
    const row = toSnapshotRow(r.snapshot);
    return row ? [row] : [];
  });
}

function toSnapshotRow(raw: Json): PresetSnapshotRow | null {
  if (!raw.preset) return null;
  const p = raw.preset as Json;
  return {
    preset: {
      id: String(p.id),
      name: String(p.name),
      instances: Number(p.instances),
      ttlSeconds: p.ttlSeconds === null ? null : Number(p.ttlSeconds),
      timezone: String(p.timezone ?? ''),
      schedules: p.schedules,
      parameters: (p.parameters ?? {}) as Record<string, string>,
      status: p.status as PresetSnapshotRow['preset']['status'],
      statusChangedAt: dateOrNull(p.statusChangedAt),
      scheduleError: (p.scheduleError as string | null) ?? null,
      autoscaling: p.autoscaling ?? null,
      autoscalingError: (p.autoscalingError as string | null) ?? null,
      templateVersionId: String(p.templateVersionId),
      versionName: String(p.versionName),
      declarations: p.declarations,
      templateId: String(p.templateId),
      templateName: String(p.templateName),
      templateDeleted: Boolean(p.templateDeleted),
      templateDeprecated: Boolean(p.templateDeprecated),
      usingActiveVersion: Boolean(p.usingActiveVersion),
      organizationId: String(p.organizationId),
      organizationName: String(p.organizationName),
    },
    paused: Boolean(raw.paused),
    rollout: raw.rollout
      ? (({ id, deadlineAt, surgeBuilds, stagedInflight }) => ({ id: String(id), deadlineAt: date(deadlineAt), surgeBuilds: Number(surgeBuilds), stagedInflight: Number(stagedInflight) }))(raw.rollout as Json)
      : null,
    waiting: Boolean(raw.waiting),
    running: (raw.running as Json[]).map((r) => ({
      id: String(r.id),
      createdAt: date(r.createdAt),
      ready: Boolean(r.ready),
      invalidated: Boolean(r.invalidated),
    })),
    inProgress: (raw.inProgress as Json[]).map((r) => ({
      transition: r.transition as 'start' | 'stop' | 'delete',
      count: Number(r.count),
    })),
    population: (raw.population as Json[]).map((r) => ({
      status: r.status as PresetSnapshotRow['population'][number]['status'],
      createdAt: date(r.createdAt),
      completedAt: dateOrNull(r.completedAt),
      error: (r.error as string | null) ?? null,
    })),
  };
}
