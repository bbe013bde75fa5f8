import type pg from 'pg';
import { BUILD_PRIORITY } from '@warmpool/contracts';
import { buildRequestedMessage, insertOutbox } from './outbox.js';
import { insertDeleteBuilds, type NewBuild } from './reconcile-queries.js';

export type LostOutcome =
  | { kind: 'applied'; presetId: string | null; deletes: NewBuild[] }
  | { kind: 'rejected'; reason: string };

/**
 * A provisioner reported that a workspace's resources vanished outside Warmpool. A prebuild whose latest build is a
 * succeeded start gets a pending delete build and its request (outbox) in the caller's transaction: from this commit on it is no longer
 * eligible (its latest build is the delete) and the preset's next reconcile creates a replacement. Anything else
 * (a claimed workspace, one already being deleted or rebuilt) is rejected: owners' workspaces are left to them.
 */
export async function applyWorkspaceLost(client: pg.ClientBase, workspaceId: string): Promise<LostOutcome> {
  const { rows } = await client.query<{ preset_id: string | null }>('SELECT preset_id FROM workspaces WHERE id = $1', [workspaceId]);
  const workspace = rows[0];
  if (!workspace) return { kind: 'rejected', reason: 'unknown workspace' };
  // insertDeleteBuilds locks the row and re-checks owner, deleted flag and latest build.
  const deletes = await insertDeleteBuilds(client, [workspaceId]);
  if (deletes.length === 0) return { kind: 'rejected', reason: 'not a live prebuild (claimed, deleted, or already being replaced)' };
  await insertOutbox(client, deletes.map((b) => buildRequestedMessage({ ...b, presetId: workspace.preset_id, reason: 'prebuild-delete' }, BUILD_PRIORITY.delete)));
  return { kind: 'applied', presetId: workspace.preset_id, deletes };
}
