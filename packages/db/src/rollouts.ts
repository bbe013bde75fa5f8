import type pg from 'pg';
import { DomainError } from '@warmpool/contracts';

/** Staged rollouts (migration 024, BEHAVIOUR.md §4.7): the rows and the per-preset progress the decision reads. */

export type RolloutState = 'staged' | 'promoted' | 'canceled' | 'failed';

export type RolloutRow = {
  id: string;
  templateId: string;
  versionId: string;
  versionName: string;
  previousVersionId: string | null;
  state: RolloutState;
  surge: string;
  surgeBuilds: number;
  deadlineAt: Date;
  startedAt: Date;
  endedAt: Date | null;
  endReason: string | null;
};

/** One staged preset with what the promotion decision and the progress answer need. */
export type StagedPresetRow = {
  presetId: string;
  name: string;
  status: 'healthy' | 'hard_limited' | 'validation_failed';
  instances: number;
  timezone: string;
  schedules: unknown;
  eligible: number;
  running: number;
  starting: number;
};

const ROLLOUT_COLUMNS = `r.id, r.template_id AS "templateId", r.version_id AS "versionId", v.name AS "versionName",
  r.previous_version_id AS "previousVersionId", r.state, r.surge, r.surge_builds AS "surgeBuilds", r.deadline_at AS "deadlineAt",
  r.started_at AS "startedAt", r.ended_at AS "endedAt", r.end_reason AS "endReason"`;

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/**
 * Starts a staged rollout of `versionId` in the caller's transaction. Refused (`conflict`) when the version is the
 * active one or another rollout of the template is staged (the partial unique index decides a race).
 */
export async function insertRollout(
  client: pg.ClientBase,
  input: { templateId: string; versionId: string; surge: string; surgeBuilds: number; deadlineSeconds: number; createdBy: string | null },
): Promise<RolloutRow> {
  const template = await client.query<{ active_version_id: string | null }>('SELECT active_version_id FROM templates WHERE id = $1 FOR UPDATE', [input.templateId]);
  const active = template.rows[0]?.active_version_id ?? null;
  if (active === input.versionId) throw new DomainError('conflict', 'this version is already active: there is nothing to roll out');
  try {
    await client.query('SAVEPOINT rollout_insert');
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO template_rollouts (template_id, version_id, previous_version_id, surge, surge_builds, deadline_at, created_by)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6), $7) RETURNING id`,
      [input.templateId, input.versionId, active, input.surge, input.surgeBuilds, input.deadlineSeconds, input.createdBy],
    );
    await client.query('RELEASE SAVEPOINT rollout_insert');
    return (await loadRollout(client, rows[0]!.id))!;
  } catch (err) {
    if (isUniqueViolation(err)) {
      await client.query('ROLLBACK TO SAVEPOINT rollout_insert');
      throw new DomainError('conflict', 'a staged rollout of this template is in progress: promote or cancel it first');
    }
    throw err;
  }
}

export async function loadRollout(db: pg.Pool | pg.ClientBase, rolloutId: string): Promise<RolloutRow | undefined> {
  const { rows } = await db.query<RolloutRow>(`SELECT ${ROLLOUT_COLUMNS} FROM template_rollouts r JOIN template_versions v ON v.id = r.version_id WHERE r.id = $1`, [rolloutId]);
  return rows[0];
}

/** The template's rollouts, newest first (at most `limit`). */
export async function listRollouts(db: pg.Pool | pg.ClientBase, templateId: string, limit: number): Promise<RolloutRow[]> {
  const { rows } = await db.query<RolloutRow>(
    `SELECT ${ROLLOUT_COLUMNS} FROM template_rollouts r JOIN template_versions v ON v.id = r.version_id
     WHERE r.template_id = $1 ORDER BY r.started_at DESC, r.id DESC LIMIT $2`,
    [templateId, limit],
  );
  return rows;
}

/** The staged rollout of the template, if any. */
export async function findStagedRollout(db: pg.Pool | pg.ClientBase, templateId: string): Promise<RolloutRow | undefined> {
  const { rows } = await db.query<RolloutRow>(
    `SELECT ${ROLLOUT_COLUMNS} FROM template_rollouts r JOIN template_versions v ON v.id = r.version_id WHERE r.template_id = $1 AND r.state = 'staged'`,
    [templateId],
  );
  return rows[0];
}

/**
 * Locks the template's staged rollout row until commit: reconciles that create staged prebuilds take it before they
 * read the template-wide count of staged builds in flight, so two presets never spend the same surge budget; a
 * promotion or a stop takes it too. Returns its id, or undefined when no rollout of the template is staged.
 */
export async function lockStagedRollout(client: pg.ClientBase, templateId: string): Promise<string | undefined> {
  const { rows } = await client.query<{ id: string }>(`SELECT id FROM template_rollouts WHERE template_id = $1 AND state = 'staged' FOR UPDATE`, [templateId]);
  return rows[0]?.id;
}

/** lockStagedRollout for the templates of a batch, in id order (two reconcilers never deadlock on them). */
export async function lockStagedRollouts(client: pg.ClientBase, templateIds: readonly string[]): Promise<void> {
  await client.query(`SELECT id FROM template_rollouts WHERE template_id = ANY($1::uuid[]) AND state = 'staged' ORDER BY id FOR UPDATE`, [[...new Set(templateIds)]]);
}

/** The other presets of the staged version a preset belongs to (none when its version is not staged). */
export async function stagedSiblings(db: pg.Pool | pg.ClientBase, presetId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT s.id FROM presets p
     JOIN template_rollouts r ON r.version_id = p.template_version_id AND r.state = 'staged'
     JOIN presets s ON s.template_version_id = p.template_version_id AND s.id <> p.id
     WHERE p.id = $1`,
    [presetId],
  );
  return rows.map((r) => r.id);
}

/**
 * The presets of a version with their pool counts (views of migration 006: eligible = running, ready, not expired;
 * starting = latest build a start still pending or running), in name order.
 */
export async function loadStagedPresets(db: pg.Pool | pg.ClientBase, versionId: string): Promise<StagedPresetRow[]> {
  const { rows } = await db.query<StagedPresetRow>(
    `SELECT p.id AS "presetId", p.name, p.status, p.instances, p.timezone, p.schedules,
            (SELECT count(*) FROM running_prebuilds r WHERE r.preset_id = p.id AND r.eligible)::int AS eligible,
            (SELECT count(*) FROM running_prebuilds r WHERE r.preset_id = p.id)::int AS running,
            (SELECT count(*) FROM prebuild_workspaces w WHERE w.preset_id = p.id AND w.transition = 'start'
               AND w.job_status IN ('pending', 'running'))::int AS starting
     FROM presets p WHERE p.template_version_id = $1 ORDER BY p.name`,
    [versionId],
  );
  return rows;
}

/** Ends a staged rollout (the caller holds its lock); false when it was no longer staged. */
export async function endRollout(client: pg.ClientBase, rolloutId: string, state: Exclude<RolloutState, 'staged'>, reason: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE template_rollouts SET state = $2, ended_at = now(), end_reason = $3 WHERE id = $1 AND state = 'staged'`,
    [rolloutId, state, reason],
  );
  return (rowCount ?? 0) > 0;
}

/** The newest rollout's state per template (metrics), with organization and template names. */
export async function latestRolloutStates(db: pg.Pool | pg.ClientBase): Promise<{ organizationName: string; templateName: string; state: RolloutState }[]> {
  const { rows } = await db.query<{ organizationName: string; templateName: string; state: RolloutState }>(
    `SELECT DISTINCT ON (r.template_id) o.name AS "organizationName", t.name AS "templateName", r.state
     FROM template_rollouts r JOIN templates t ON t.id = r.template_id JOIN organizations o ON o.id = t.organization_id
     WHERE NOT t.deleted ORDER BY r.template_id, r.started_at DESC, r.id DESC`,
  );
  return rows;
}
