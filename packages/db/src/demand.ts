import type pg from 'pg';
import { SYSTEM_USER_ID } from './constants.js';

/**
 * Demand history (issue 13): one `demand_events` row per workspace request a preset applied to, written by
 * `requestBuild` in the claim's (or fresh build's) own statement. Read here for sizing, status and replay.
 */

/** How long demand events are kept: the forecast reads 4 weeks, a replay at most 28 days. */
export const DEMAND_RETENTION_MS = 35 * 86_400_000;
/** The forecast's history window. */
export const DEMAND_HISTORY_DAYS = 28;

export type DemandSummary = {
  presetId: string;
  /** Requests per UTC hour over the last 28 days (hours without requests absent). */
  hourly: { start: Date; requests: number }[];
  /** Requests of the last 120 minutes, oldest first. */
  recent: { at: Date; hit: boolean }[];
  /** The oldest retained request; null without history. */
  observedSince: Date | null;
  requests24h: number;
  hits24h: number;
  requests7d: number;
  hits7d: number;
  /** p95 seconds from build request to all agents ready, over the pool's current prebuilds; null without any. */
  leadTimeP95Seconds: number | null;
};

// $1 = preset ids, $2 = now, $3 = system user. One statement for any number of presets.
const SUMMARY_SQL = `
SELECT ids.id AS preset_id,
  (SELECT COALESCE(json_agg(json_build_object('start', h, 'requests', n)), '[]'::json)
     FROM (SELECT date_trunc('hour', requested_at) AS h, count(*) AS n FROM demand_events
           WHERE preset_id = ids.id AND requested_at > $2::timestamptz - interval '${DEMAND_HISTORY_DAYS} days' AND requested_at <= $2
           GROUP BY 1) x) AS hourly,
  (SELECT COALESCE(json_agg(json_build_object('at', requested_at, 'hit', hit) ORDER BY requested_at), '[]'::json)
     FROM demand_events WHERE preset_id = ids.id AND requested_at > $2::timestamptz - interval '120 minutes' AND requested_at <= $2) AS recent,
  (SELECT min(requested_at) FROM demand_events WHERE preset_id = ids.id) AS observed_since,
  w.*,
  (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM r.ready - b.created_at))
     FROM (SELECT id FROM workspaces WHERE preset_id = ids.id AND owner_id = $3 AND NOT deleted ORDER BY created_at DESC LIMIT 50) pw
     JOIN builds b ON b.workspace_id = pw.id AND b.build_number = 1 AND b.job_status = 'succeeded'
     CROSS JOIN LATERAL (SELECT max(ready_at) AS ready FROM agents a WHERE a.build_id = b.id) r
     WHERE r.ready IS NOT NULL) AS lead_p95
FROM unnest($1::uuid[]) AS ids(id)
CROSS JOIN LATERAL (
  SELECT count(*) FILTER (WHERE requested_at > $2::timestamptz - interval '24 hours')::int AS requests_24h,
         count(*) FILTER (WHERE hit AND requested_at > $2::timestamptz - interval '24 hours')::int AS hits_24h,
         count(*)::int AS requests_7d, count(*) FILTER (WHERE hit)::int AS hits_7d
  FROM demand_events WHERE preset_id = ids.id AND requested_at > $2::timestamptz - interval '7 days' AND requested_at <= $2
) w`;

type SummaryRow = {
  preset_id: string;
  hourly: { start: string; requests: number }[];
  recent: { at: string; hit: boolean }[];
  observed_since: Date | null;
  requests_24h: number;
  hits_24h: number;
  requests_7d: number;
  hits_7d: number;
  lead_p95: number | null;
};

/** Demand summaries of the given presets at `now`, in one round trip (the same order; every id answers). */
export async function loadDemandSummaries(db: pg.Pool | pg.ClientBase, presetIds: readonly string[], now = new Date()): Promise<DemandSummary[]> {
  if (presetIds.length === 0) return [];
  const { rows } = await db.query<SummaryRow>(SUMMARY_SQL, [presetIds, now, SYSTEM_USER_ID]);
  return rows.map((r) => ({
    presetId: r.preset_id,
    hourly: r.hourly.map((h) => ({ start: new Date(h.start), requests: Number(h.requests) })),
    recent: r.recent.map((e) => ({ at: new Date(e.at), hit: e.hit })),
    observedSince: r.observed_since,
    requests24h: r.requests_24h,
    hits24h: r.hits_24h,
    requests7d: r.requests_7d,
    hits7d: r.hits_7d,
    leadTimeP95Seconds: r.lead_p95 === null ? null : Number(r.lead_p95),
  }));
}

export type DemandTraceEvent = { at: Date; hit: boolean; /** seconds until usable; null while (or if never) usable */ waitSeconds: number | null };

/**
 * Recorded requests of a preset in [from, to), oldest first, with the wait until the workspace was usable: all
 * agents of its build ready (else the build's completion) minus the request time. At most `limit` rows.
 */
export async function loadDemandTrace(db: pg.Pool | pg.ClientBase, presetId: string, from: Date, to: Date, limit = 500_000): Promise<DemandTraceEvent[]> {
  const { rows } = await db.query<{ at: Date; hit: boolean; wait: number | null }>(
    `SELECT d.requested_at AS at, d.hit,
            extract(epoch FROM COALESCE((SELECT max(a.ready_at) FROM agents a WHERE a.build_id = d.build_id AND NOT EXISTS
                                          (SELECT 1 FROM agents n WHERE n.build_id = d.build_id AND NOT n.ready)),
                                        b.completed_at) - d.requested_at)::float8 AS wait
     FROM demand_events d LEFT JOIN builds b ON b.id = d.build_id AND b.job_status = 'succeeded'
     WHERE d.preset_id = $1 AND d.requested_at >= $2 AND d.requested_at < $3
     ORDER BY d.requested_at, d.id LIMIT $4`,
    [presetId, from, to, limit],
  );
  return rows.map((r) => ({ at: r.at, hit: r.hit, waitSeconds: r.wait === null ? null : Math.max(r.wait, 0) }));
}

/** Deletes demand events older than the retention; returns how many. */
export async function pruneDemand(db: pg.Pool, olderThanMs = DEMAND_RETENTION_MS): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM demand_events WHERE requested_at < now() - make_interval(secs => $1)`, [olderThanMs / 1000]);
  return rowCount ?? 0;
}

/** Records the preset's current autoscaling problem (null: none); writes only when it changed. True when it did. */
export async function setAutoscalingError(db: pg.Pool | pg.ClientBase, presetId: string, error: string | null): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE presets SET autoscaling_error = $2 WHERE id = $1 AND autoscaling_error IS DISTINCT FROM $2', [presetId, error]);
  return (rowCount ?? 0) > 0;
}

/** The presets of a template's active version with their running prebuilds (the manifest dry run's "before"). */
export async function loadActivePoolShapes(
  db: pg.Pool | pg.ClientBase,
  templateId: string,
): Promise<{ name: string; instances: number; timezone: string; schedules: unknown; autoscaling: unknown; running: number }[]> {
  const { rows } = await db.query<{ name: string; instances: number; timezone: string; schedules: unknown; autoscaling: unknown; running: number }>(
    `SELECT p.name, p.instances, p.timezone, p.schedules, p.autoscaling,
            (SELECT count(*)::int FROM running_prebuilds r WHERE r.preset_id = p.id) AS running
     FROM templates t JOIN presets p ON p.template_version_id = t.active_version_id
     WHERE t.id = $1 ORDER BY p.name`,
    [templateId],
  );
  return rows;
}
