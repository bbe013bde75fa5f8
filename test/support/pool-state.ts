import type { Pool } from '@warmpool/db';

/**
 * Pool state as tests, benches and the chaos run measure it, in SQL, over the shared views of migration 006: a prebuild (view
 * prebuild_workspaces) is live when its latest build is a start that is pending, running or succeeded (a workspace
 * whose latest build is a delete is going away and does not count), and eligible as the view running_prebuilds
 * defines it (running, every agent ready, neither past the preset's TTL nor invalidated). Convergence reads desired
 * as `instances`: for presets without schedules (the chaos run's).
 */
const PREBUILDS = `
  SELECT pw.id, pw.preset_id, pw.build_id, pw.transition, pw.job_status, pw.reason,
         pw.transition = 'start' AND pw.job_status IN ('pending', 'running', 'succeeded') AS live,
         COALESCE(r.eligible, false) AS eligible
  FROM prebuild_workspaces pw
  LEFT JOIN running_prebuilds r ON r.id = pw.id`;

const COUNTS = `
  SELECT p.id, p.instances, COALESCE(c.live, 0)::int AS live, COALESCE(c.eligible, 0)::int AS eligible
  FROM presets p
  LEFT JOIN (SELECT preset_id, count(*) FILTER (WHERE live) AS live, count(*) FILTER (WHERE eligible) AS eligible
             FROM (${PREBUILDS}) x GROUP BY preset_id) c ON c.preset_id = p.id`;

/** Presets whose eligible or live count differs from desired. */
export async function notConverged(db: Pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${COUNTS}) c WHERE c.eligible <> c.instances OR c.live <> c.instances`);
  return rows[0]!.n;
}

/** The largest excess of live prebuilds over desired, and one preset showing it. */
export async function overshoot(db: Pool): Promise<{ value: number; presetId: string | undefined }> {
  const { rows } = await db.query<{ id: string; excess: number }>(`SELECT id, (live - instances)::int AS excess FROM (${COUNTS}) c ORDER BY live - instances DESC LIMIT 1`);
  return { value: Math.max(0, rows[0]?.excess ?? 0), presetId: rows[0]?.id };
}

/** A few presets off their desired count, each with its prebuilds' latest builds, to explain a failure. */
export async function reportOffPresets(db: Pool, limit = 5): Promise<string[]> {
  const { rows } = await db.query(
    `SELECT c.id, c.instances, c.live, c.eligible,
            (SELECT json_agg(json_build_object('build', x.transition || ':' || x.job_status, 'reason', x.reason, 'eligible', x.eligible,
                     'agents', (SELECT json_agg(a.ready) FROM agents a WHERE a.build_id = x.build_id)))
             FROM (${PREBUILDS}) x WHERE x.preset_id = c.id) AS prebuilds
     FROM (${COUNTS}) c WHERE c.eligible <> c.instances OR c.live <> c.instances ORDER BY c.id LIMIT $1`,
    [limit],
  );
  return rows.map((r) => JSON.stringify(r));
}

/**
 * Why presets are off (CHAOS_VERBOSE): short with a create in flight (waiting on a build), short with nothing in
 * flight (waiting on a reconcile), ready but over (waiting on a delete), live but not yet eligible.
 */
export async function offBreakdown(db: Pool): Promise<Record<string, number>> {
  const { rows } = await db.query<{ kind: string; n: number }>(
    `SELECT CASE WHEN c.live > c.instances THEN 'over'
                 WHEN c.live < c.instances THEN 'short, nothing in flight'
                 WHEN c.eligible < c.live AND EXISTS (SELECT 1 FROM (${PREBUILDS}) x WHERE x.preset_id = c.id AND x.live AND x.job_status IN ('pending', 'running')) THEN 'short, build in flight'
                 ELSE 'live but not eligible (agents, expiry)' END AS kind, count(*)::int AS n
     FROM (${COUNTS}) c WHERE c.eligible <> c.instances OR c.live <> c.instances GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
}

/** Eligible prebuilds of one preset. */
export async function eligibleCount(db: Pool, presetId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM running_prebuilds WHERE preset_id = $1 AND eligible', [presetId]);
  return rows[0]!.n;
}

/** Presets with at least one eligible prebuild, and prebuild creates pending or running (in flight). */
export async function servedAndInflight(db: Pool): Promise<{ served: number; inflight: number }> {
  const { rows } = await db.query<{ served: number; inflight: number }>(
    `SELECT (SELECT count(DISTINCT preset_id) FROM running_prebuilds WHERE eligible)::int AS served,
            (SELECT count(*) FROM builds WHERE reason = 'prebuild-create' AND job_status IN ('pending', 'running'))::int AS inflight`,
  );
  return rows[0]!;
}
