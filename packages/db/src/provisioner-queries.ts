import type pg from 'pg';
import { activeVersionSql } from './active.js';
import { SYSTEM_USER_ID } from './constants.js';

/** Read-only lookups a provisioner makes: what a build is for, and which workspaces still exist. */

export type BuildTarget = {
  buildId: string;
  workspaceId: string;
  workspaceName: string;
  organizationId: string;
  templateId: string;
  templateVersionId: string;
  presetId: string | null;
  ownerId: string;
  ownerName: string;
  /** The version manifest's `workspace` block as stored (validated at import), or null. */
  workspace: unknown;
  /** The version's parameter declarations as stored: the values a build renders must satisfy them. */
  declarations: unknown;
  /** The build's version is its template's active one and the template is neither deleted nor deprecated. */
  active: boolean;
};

/** The ids and the version's workspace block of one build, or null for an unknown build. */
export async function loadBuildTarget(db: pg.Pool | pg.ClientBase, buildId: string): Promise<BuildTarget | null> {
  const { rows } = await db.query<BuildTarget>(
    `SELECT b.id AS "buildId", w.id AS "workspaceId", w.name AS "workspaceName", w.organization_id AS "organizationId",
            w.template_id AS "templateId", b.template_version_id AS "templateVersionId", w.preset_id AS "presetId",
            w.owner_id AS "ownerId", u.username AS "ownerName", v.manifest -> 'workspace' AS workspace, v.parameters AS declarations,
            ${activeVersionSql('b.template_version_id')} AS active
     FROM builds b
     JOIN workspaces w ON w.id = b.workspace_id
     JOIN users u ON u.id = w.owner_id
     JOIN template_versions v ON v.id = b.template_version_id
     JOIN templates t ON t.id = w.template_id
     WHERE b.id = $1`,
    [buildId],
  );
  return rows[0] ?? null;
}

export type WorkspaceLiveness = {
  id: string;
  /** False when the workspace row does not exist or is marked deleted. */
  live: boolean;
  prebuild: boolean;
  latestBuildId: string | null;
  latestTransition: 'start' | 'stop' | 'delete' | null;
  latestStatus: 'pending' | 'running' | 'succeeded' | 'failed' | 'canceled' | null;
};

/** For each id: whether the workspace still exists and its latest build (start-up reconcile of a provisioner). */
export async function loadLiveWorkspaces(db: pg.Pool | pg.ClientBase, ids: readonly string[]): Promise<WorkspaceLiveness[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<WorkspaceLiveness>(
    `SELECT i.id, (l.id IS NOT NULL AND NOT l.deleted) AS live, COALESCE(l.owner_id = $2, false) AS prebuild,
            l.build_id AS "latestBuildId", l.transition AS "latestTransition", l.job_status AS "latestStatus"
     FROM unnest($1::uuid[]) AS i(id)
     LEFT JOIN workspace_latest_builds l ON l.id = i.id`,
    [ids, SYSTEM_USER_ID],
  );
  return rows;
}
