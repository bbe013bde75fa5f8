import { isTerminalJobStatus, type BuildReason, type ResultOfBuild } from '@warmpool/contracts';
import type pg from 'pg';
import { bumpPresetCounter } from './counters.js';

/** The outcome of applying one provisioner result; consumers log rejections and never retry them. */
export type AppliedResult =
  | {
      kind: 'applied';
      workspaceId: string;
      presetId: string | null;
      buildNumber: number;
      transition: 'start' | 'stop' | 'delete';
      reason: BuildReason;
      initiatorId: string;
      /** Set when a claim build reported replaced resources (first application only). */
      replacements: Record<string, string[]> | null;
      /** Set when the first start build of a workspace succeeded: how long creating it took. */
      creation?: { type: 'prebuild' | 'regular'; seconds: number };
    }
  | { kind: 'rejected'; reason: string }
  /** The result arrived before one it depends on (agent-ready before build-succeeded): try again later. */
  | { kind: 'early'; reason: string };

type LockedBuild = {
  created_at: Date;
  id: string;
  workspace_id: string;
  preset_id: string | null;
  build_number: number;
  transition: 'start' | 'stop' | 'delete';
  reason: BuildReason;
  initiator_id: string;
  job_status: string;
};

type Applied = Extract<AppliedResult, { kind: 'applied' }>;
type Rejected = Extract<AppliedResult, { kind: 'rejected' }>;

const applied = (build: LockedBuild, replacements: Record<string, string[]> | null = null): Applied => ({
  kind: 'applied',
  workspaceId: build.workspace_id,
  presetId: build.preset_id,
  buildNumber: build.build_number,
  transition: build.transition,
  reason: build.reason,
  initiatorId: build.initiator_id,
  replacements,
});

const isTerminal = (build: LockedBuild) => isTerminalJobStatus(build.job_status);
const secondTerminal = (build: LockedBuild): Rejected => ({ kind: 'rejected', reason: `second terminal result (build is ${build.job_status})` });

/**
 * Applies one result inside the caller's transaction, with the build row locked. Idempotent by build id: a
 * result only moves a build forward (pending → running → succeeded|failed); anything else is rejected.
 */
export async function applyBuildResult(client: pg.ClientBase, result: ResultOfBuild): Promise<AppliedResult> {
  const { rows } = await client.query<LockedBuild>(
    `SELECT b.id, b.created_at, b.workspace_id, w.preset_id, b.build_number, b.transition, b.reason, b.initiator_id, b.job_status
     FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE b.id = $1 FOR UPDATE OF b`,
    [result.buildId],
  );
  const build = rows[0];
  if (!build) return { kind: 'rejected', reason: 'unknown build' };
  switch (result.type) {
    case 'build-started':
      return applyStarted(client, build, result);
    case 'build-failed':
      return applyFailed(client, build, result);
    case 'build-succeeded':
      return applySucceeded(client, build, result);
    case 'build-canceled':
      return applyCanceled(client, build, result);
    case 'agent-ready':
      return applyAgentReady(client, build, result);
  }
}

type Of<T extends ResultOfBuild['type']> = Extract<ResultOfBuild, { type: T }>;

async function applyStarted(client: pg.ClientBase, build: LockedBuild, result: Of<'build-started'>): Promise<AppliedResult> {
  if (build.job_status !== 'pending') return { kind: 'rejected', reason: `build is already ${build.job_status}` };
  await client.query(`UPDATE builds SET job_status = 'running', started_at = $2 WHERE id = $1`, [build.id, result.at]);
  return applied(build);
}

async function applyFailed(client: pg.ClientBase, build: LockedBuild, result: Of<'build-failed'>): Promise<AppliedResult> {
  if (isTerminal(build)) return secondTerminal(build);
  await client.query(
    `UPDATE builds SET job_status = 'failed', error = $2, retryable = $3, completed_at = $4, started_at = COALESCE(started_at, $4) WHERE id = $1`,
    [build.id, result.error, result.retryable, result.at],
  );
  if (build.reason === 'prebuild-create') await bumpPresetCounter(client, build.preset_id, 'failed');
  return applied(build);
}

async function applySucceeded(client: pg.ClientBase, build: LockedBuild, result: Of<'build-succeeded'>): Promise<AppliedResult> {
  if (isTerminal(build)) return secondTerminal(build);
  const replacements = result.replacements && Object.keys(result.replacements).length > 0 ? result.replacements : null;
  await client.query(
    `UPDATE builds SET job_status = 'succeeded', completed_at = $2, started_at = COALESCE(started_at, $2), replacements = $3 WHERE id = $1`,
    [build.id, result.at, replacements ? JSON.stringify(replacements) : null],
  );
  if (result.agents.length > 0) {
    await client.query(
      `INSERT INTO agents (build_id, name, ready, ready_at)
       SELECT $1, name, ready, CASE WHEN ready THEN $4::timestamptz END FROM unnest($2::text[], $3::bool[]) AS a(name, ready)
       ON CONFLICT (build_id, name) DO NOTHING`,
      [build.id, result.agents.map((a) => a.name), result.agents.map((a) => a.ready), result.at],
    );
  }
  if (build.transition === 'delete') await client.query('UPDATE workspaces SET deleted = true WHERE id = $1', [build.workspace_id]);
  // A claimed workspace runs (a frozen prebuild was thawed by its claim): it has no standby tier any more.
  if (build.reason === 'claim') {
    await client.query('UPDATE workspaces SET standby_want = NULL, standby_requested_at = NULL, frozen_at = NULL WHERE id = $1 AND standby_want IS NOT NULL', [build.workspace_id]);
  }
  if (replacements && build.reason === 'claim') {
    await bumpPresetCounter(client, build.preset_id, 'resource_replacements');
    return applied(build, replacements);
  }
  if (build.transition === 'start' && build.build_number === 1) {
    const seconds = Math.max(0, (Date.parse(result.at) - build.created_at.getTime()) / 1000);
    return { ...applied(build), creation: { type: build.reason === 'prebuild-create' ? 'prebuild' : 'regular', seconds } };
  }
  return applied(build);
}

async function applyCanceled(client: pg.ClientBase, build: LockedBuild, result: Of<'build-canceled'>): Promise<AppliedResult> {
  if (isTerminal(build)) return secondTerminal(build);
  await client.query(
    `UPDATE builds SET job_status = 'canceled', error = $2, completed_at = $3, started_at = COALESCE(started_at, $3) WHERE id = $1`,
    [build.id, result.reason, result.at],
  );
  // A canceled prebuild create left nothing behind (the provisioner cleaned up): unless a later build exists,
  // the workspace is gone. Cancellation never counts as a failure.
  if (build.reason === 'prebuild-create') {
    await client.query(
      `UPDATE workspaces SET deleted = true WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM builds WHERE workspace_id = $1 AND build_number > $2)`,
      [build.workspace_id, build.build_number],
    );
  }
  return applied(build);
}

async function applyAgentReady(client: pg.ClientBase, build: LockedBuild, result: Of<'agent-ready'>): Promise<AppliedResult> {
  // Results race each other through the queue: readiness may overtake the success it follows.
  if (build.job_status === 'pending' || build.job_status === 'running') return { kind: 'early', reason: `build is still ${build.job_status}` };
  if (build.job_status !== 'succeeded') return { kind: 'rejected', reason: `agent-ready for a build that is ${build.job_status}` };
  const { rowCount } = await client.query(
    `UPDATE agents SET ready = true, ready_at = COALESCE(ready_at, $3) WHERE build_id = $1 AND name = $2`,
    [build.id, result.agent, result.at],
  );
  if (!rowCount) return { kind: 'rejected', reason: `unknown agent ${JSON.stringify(result.agent)}` };
  return applied(build);
}
