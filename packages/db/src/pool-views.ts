import type pg from 'pg';
import { agentsJson } from './workspaces.js';

/** Read models behind the pools console: organizations in scope, a preset's builds, replacements and history. */

export type OrganizationRow = { id: string; name: string };

/** Organizations by id (every organization when `ids` is null, for site-wide principals), by name. */
export async function listOrganizations(pool: pg.Pool, ids: string[] | null): Promise<OrganizationRow[]> {
  const { rows } = await pool.query<OrganizationRow>('SELECT id, name FROM organizations WHERE $1::uuid[] IS NULL OR id = ANY($1) ORDER BY name', [ids]);
  return rows;
}

export type PresetBuild = {
  id: string;
  /** The workspace's owner now (the system user for a prebuild); the API hides other users' details by it. */
  ownerId: string;
  workspaceName: string;
  buildNumber: number;
  transition: string;
  reason: string;
  status: string;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
  /** The build's agents (a start build's; empty before it succeeded and for stops and deletes). */
  agents: { name: string; ready: boolean; readyAt: string | null }[];
};

/** The latest builds of the preset's workspaces (prebuilds and the claims of them), newest first. */
export async function latestPresetBuilds(pool: pg.Pool, presetId: string, limit: number): Promise<PresetBuild[]> {
  const { rows } = await pool.query<{ id: string; owner_id: string; name: string; build_number: number; transition: string; reason: string; job_status: string; error: string | null; created_at: Date; completed_at: Date | null; agents: { name: string; ready: boolean; ready_at: string | null }[] }>(
    `SELECT b.id, w.owner_id, w.name, b.build_number, b.transition, b.reason, b.job_status, b.error, b.created_at, b.completed_at,
            ${agentsJson('b.id')} AS agents
     FROM builds b JOIN workspaces w ON w.id = b.workspace_id
     WHERE w.preset_id = $1 ORDER BY b.created_at DESC, b.id LIMIT $2`,
    [presetId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    ownerId: r.owner_id,
    workspaceName: r.name,
    buildNumber: r.build_number,
    transition: r.transition,
    reason: r.reason,
    status: r.job_status,
    error: r.error,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
    agents: r.agents.map((a) => ({ name: a.name, ready: a.ready, readyAt: a.ready_at ? new Date(a.ready_at).toISOString() : null })),
  }));
}

/** `claimantId` is the workspace's owner, `claimant` their username. */
export type ReplacementNotice = { buildId: string; workspaceName: string; buildNumber: number; claimantId: string; claimant: string; replacements: Record<string, string[]>; at: string };

/** Claims whose build replaced resources of the prebuild (BEHAVIOUR.md §9), newest first. */
export async function presetReplacements(pool: pg.Pool, presetId: string, limit: number): Promise<ReplacementNotice[]> {
  const { rows } = await pool.query<{ id: string; name: string; build_number: number; owner_id: string; username: string; replacements: Record<string, string[]>; at: Date }>(
    `SELECT b.id, w.name, b.build_number, w.owner_id, u.username, b.replacements, COALESCE(b.completed_at, b.created_at) AS at
     FROM builds b JOIN workspaces w ON w.id = b.workspace_id JOIN users u ON u.id = w.owner_id
     WHERE w.preset_id = $1 AND b.reason = 'claim' AND b.replacements IS NOT NULL
     ORDER BY b.created_at DESC, b.id LIMIT $2`,
    [presetId, limit],
  );
  return rows.map((r) => ({ buildId: r.id, workspaceName: r.name, buildNumber: r.build_number, claimantId: r.owner_id, claimant: r.username, replacements: r.replacements, at: r.at.toISOString() }));
}

export type PoolSample = { presetId: string; desired: number; eligible: number };

/**
 * Records one sample per preset in the bucket containing `at` (the first writer of a bucket wins) and prunes
 * samples older than `keepMs`. One statement each, whatever the number of presets.
 */
export async function recordPoolSamples(pool: pg.Pool, samples: PoolSample[], at: Date, bucketMs: number, keepMs: number): Promise<void> {
  if (samples.length === 0) return;
  const bucket = new Date(Math.floor(at.getTime() / bucketMs) * bucketMs);
  await pool.query(
    `INSERT INTO pool_samples (preset_id, at, desired, eligible)
     SELECT s.preset_id, $1, s.desired, s.eligible FROM unnest($2::uuid[], $3::int[], $4::int[]) AS s(preset_id, desired, eligible)
     ON CONFLICT DO NOTHING`,
    [bucket, samples.map((s) => s.presetId), samples.map((s) => s.desired), samples.map((s) => s.eligible)],
  );
  await pool.query('DELETE FROM pool_samples WHERE at < $1', [new Date(at.getTime() - keepMs)]);
}

export type PoolHistory = {
  samples: { at: string; desired: number; eligible: number }[];
  /** Requests the preset applied to per hour (demand_events): served by a prebuild (hits) or built fresh (misses). */
  hits: { at: string; count: number }[];
  misses: { at: string; count: number }[];
};

/** The preset's pool samples and hourly hits and misses since `since`, oldest first (two statements). */
export async function presetHistory(pool: pg.Pool, presetId: string, since: Date): Promise<PoolHistory> {
  const [samples, demand] = await Promise.all([
    pool.query<{ at: Date; desired: number; eligible: number }>('SELECT at, desired, eligible FROM pool_samples WHERE preset_id = $1 AND at >= $2 ORDER BY at', [presetId, since]),
    pool.query<{ at: Date; hits: number; misses: number }>(
      `SELECT date_trunc('hour', requested_at) AS at, count(*) FILTER (WHERE hit)::int AS hits, count(*) FILTER (WHERE NOT hit)::int AS misses
       FROM demand_events WHERE preset_id = $1 AND requested_at >= $2 GROUP BY 1 ORDER BY 1`,
      [presetId, since],
    ),
  ]);
  const hourly = (key: 'hits' | 'misses') => demand.rows.filter((r) => r[key] > 0).map((r) => ({ at: r.at.toISOString(), count: r[key] }));
  return {
    samples: samples.rows.map((r) => ({ at: r.at.toISOString(), desired: r.desired, eligible: r.eligible })),
    hits: hourly('hits'),
    misses: hourly('misses'),
  };
}
