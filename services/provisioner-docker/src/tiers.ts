import type Docker from 'dockerode';
import { loadLiveWorkspaces, type Pool } from '@warmpool/db';
import type { Provisioner } from '@warmpool/provisioner-kit';
import type { Logger } from '@warmpool/runtime';
import { freezeWorkspace, inspectWorkspace, LABEL, thawWorkspace } from './engine.js';
import type { ContainerEvent } from './events.js';

export type TierDeps = { docker: Docker; pool: Pool; kit: Provisioner; logger: Logger; instance: string; thawBudgetMs: number };

/**
 * Puts a standby prebuild's container back in the tier Warmpool last asked for (`standby_want`, hot when never
 * asked) when it differs: a `docker pause` or `docker unpause` from outside is drift. The container's state is read
 * again rather than trusting the event (events of one container may be seen late). Claimed workspaces belong to
 * their owners, and a workspace with a build, freeze or thaw running here is left to it.
 */
export async function healTier(deps: TierDeps, workspaceId: string): Promise<'thawed' | 'frozen' | null> {
  if (deps.kit.isBusy(workspaceId)) return null;
  const [state] = await loadLiveWorkspaces(deps.pool, [workspaceId]);
  if (!state?.live || !state.prebuild || state.latestTransition !== 'start' || state.latestStatus !== 'succeeded') return null;
  const info = await inspectWorkspace(deps.docker, workspaceId, deps.instance);
  // A dead or missing container is the event stream's `workspace-lost`, not a tier.
  if (!info?.State.Running || deps.kit.isBusy(workspaceId)) return null;
  const want = state.standbyWant ?? 'hot';
  if (want === 'hot' && info.State.Paused) {
    deps.logger.warn({ workspaceId, container: info.Id.slice(0, 12) }, 'standby prebuild paused outside Warmpool; thawing it');
    await thawWorkspace(deps.docker, info, { budgetMs: deps.thawBudgetMs, retryMs: 20 });
    return 'thawed';
  }
  if (want === 'frozen' && !info.State.Paused) {
    deps.logger.warn({ workspaceId, container: info.Id.slice(0, 12) }, 'frozen standby prebuild unpaused outside Warmpool; freezing it again');
    await freezeWorkspace(deps.docker, info);
    return 'frozen';
  }
  return null;
}

/** The engine-event handler of pauses and unpauses: heals tier drift in the background, logging failures. */
export function onTierEvent(deps: TierDeps): (event: ContainerEvent) => void {
  return (event) => {
    const workspaceId = event.labels[LABEL.workspace];
    if (!workspaceId) return;
    healTier(deps, workspaceId).catch((err: unknown) => deps.logger.warn({ err, workspaceId }, 'standby tier heal failed'));
  };
}
