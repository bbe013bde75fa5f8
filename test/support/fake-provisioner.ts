import type { Pool } from '@warmpool/db';

/**
 * A stand-in for a provisioner that works directly on rows: completes pending builds as the real results
 * consumer would record them. Pipeline tests use it so they do not depend on the simulator.
 */

/** Marks every pending/running build succeeded: starts get one ready agent, deletes mark the workspace deleted. */
export async function completePendingBuilds(pool: Pool, options: { presetId?: string } = {}): Promise<number> {
  const { rows } = await pool.query<{ id: string; transition: string; workspace_id: string }>(
    `UPDATE builds b SET job_status = 'succeeded', started_at = COALESCE(started_at, now()), completed_at = now()
     FROM workspaces w
     WHERE w.id = b.workspace_id AND b.job_status IN ('pending', 'running') AND ($1::uuid IS NULL OR w.preset_id = $1)
     RETURNING b.id, b.transition, b.workspace_id`,
    [options.presetId ?? null],
  );
  const starts = rows.filter((r) => r.transition === 'start').map((r) => r.id);
  const deletes = rows.filter((r) => r.transition === 'delete').map((r) => r.workspace_id);
  if (starts.length) {
    await pool.query(`INSERT INTO agents (build_id, name, ready, ready_at) SELECT id, 'main', true, now() FROM unnest($1::uuid[]) AS id`, [starts]);
  }
  if (deletes.length) await pool.query('UPDATE workspaces SET deleted = true WHERE id = ANY($1::uuid[])', [deletes]);
  return rows.length;
}

/** Marks every pending/running build of the preset failed (what a failing provisioner reports). */
export async function failPendingBuilds(pool: Pool, presetId: string, error = 'simulated failure'): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE builds b SET job_status = 'failed', error = $2, retryable = false, completed_at = now()
     FROM workspaces w
     WHERE w.id = b.workspace_id AND b.job_status IN ('pending', 'running') AND w.preset_id = $1`,
    [presetId, error],
  );
  return rowCount ?? 0;
}

/** Counts of a preset's prebuilds by the state of their latest build. */
export async function prebuildCounts(pool: Pool, presetId: string): Promise<{ running: number; pending: number; failed: number; total: number }> {
  const { rows } = await pool.query<{ running: number; pending: number; failed: number; total: number }>(
    `SELECT count(*) FILTER (WHERE running)::int AS running,
            count(*) FILTER (WHERE job_status IN ('pending', 'running'))::int AS pending,
            count(*) FILTER (WHERE job_status = 'failed')::int AS failed,
            count(*)::int AS total
     FROM prebuild_workspaces WHERE preset_id = $1`,
    [presetId],
  );
  return rows[0]!;
}
