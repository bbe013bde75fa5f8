import type pg from 'pg';
import { activeVersionSql } from './active.js';

/** One preset's pool as the metrics and the demo show it: counts from the shared views, counters from preset_counters. */
export type PoolRow = {
  preset_id: string;
  template_id: string;
  organization_name: string;
  template_name: string;
  preset_name: string;
  /** Active = the template's active version, template neither deleted nor deprecated. */
  active: boolean;
  instances: number;
  timezone: string;
  /** Raw stored JSON; the caller validates its shape. */
  schedules: unknown;
  /** Raw stored `prebuilds.autoscaling` fragment, or null. */
  autoscaling: unknown;
  status: 'healthy' | 'hard_limited' | 'validation_failed';
  /** Running prebuilds (view running_prebuilds). */
  running: number;
  /** Claimable now: running, ready and not expired (running_prebuilds.eligible). */
  eligible: number;
  /** Prebuilds whose latest build is a start still pending or running. */
  starting: number;
  /** Prebuilds whose latest build failed. */
  failed_now: number;
  created: number;
  failed: number;
  claimed: number;
  /** Requests the preset applied to that found nothing eligible (issue 13). */
  missed: number;
  replacements: number;
  /** Requests (claims + misses) of the last 24 hours, and how many were hits (demand_events). */
  requests_24h: number;
  hits_24h: number;
};

// One statement per refresh for every preset (the views of migration 006 define running and eligible).
const POOL_SQL = `
SELECT p.id AS preset_id, t.id AS template_id, o.name AS organization_name, t.name AS template_name, p.name AS preset_name,
       ${activeVersionSql('p.template_version_id')} AS active,
       p.instances, p.timezone, p.schedules, p.autoscaling, p.status,
       COALESCE(r.running, 0)::int AS running, COALESCE(r.eligible, 0)::int AS eligible,
       COALESCE(s.starting, 0)::int AS starting, COALESCE(s.failed_now, 0)::int AS failed_now,
       COALESCE(c.created, 0)::int AS created, COALESCE(c.failed, 0)::int AS failed,
       COALESCE(c.claimed, 0)::int AS claimed, COALESCE(c.missed, 0)::int AS missed, COALESCE(c.replacements, 0)::int AS replacements,
       d.requests_24h, d.hits_24h
FROM presets p
JOIN template_versions v ON v.id = p.template_version_id
JOIN templates t ON t.id = v.template_id
JOIN organizations o ON o.id = t.organization_id
LEFT JOIN LATERAL (
  SELECT count(*) AS running, count(*) FILTER (WHERE eligible) AS eligible FROM running_prebuilds WHERE preset_id = p.id
) r ON true
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE transition = 'start' AND job_status IN ('pending', 'running')) AS starting,
         count(*) FILTER (WHERE job_status = 'failed') AS failed_now
  FROM prebuild_workspaces WHERE preset_id = p.id
) s ON true
LEFT JOIN LATERAL (
  SELECT sum(value) FILTER (WHERE name = 'created') AS created, sum(value) FILTER (WHERE name = 'failed') AS failed,
         sum(value) FILTER (WHERE name = 'claimed') AS claimed, sum(value) FILTER (WHERE name = 'missed') AS missed,
         sum(value) FILTER (WHERE name = 'resource_replacements') AS replacements
  FROM preset_counters WHERE preset_id = p.id
) c ON true
LEFT JOIN LATERAL (
  SELECT count(*)::int AS requests_24h, count(*) FILTER (WHERE hit)::int AS hits_24h
  FROM demand_events WHERE preset_id = p.id AND requested_at > now() - interval '24 hours'
) d ON true
ORDER BY o.name, t.name, p.name`;

/** Every preset's pool in one round trip, ordered by organization, template and preset name. */
export async function loadPoolRows(db: pg.Pool | pg.ClientBase): Promise<PoolRow[]> {
  const { rows } = await db.query<PoolRow>(POOL_SQL);
  return rows;
}
