/**
 * Whether a workspace can be handed to its user now (BEHAVIOUR.md §5, "Readiness"): its latest build is a succeeded
 * start, it has agents and all of them are ready, and for a claim the claim hook has run (the claim build succeeds
 * only after its hook). The same rule as a prebuild's eligibility (view `prebuilds`), for every workspace.
 */

export type AgentState = { name: string; ready: boolean; readyAt: Date | null };
export type LatestBuildState = { transition: string; reason: string; jobStatus: string; completedAt: Date | null; error: string | null };
export type ClaimHookStatus = 'pending' | 'succeeded' | 'failed' | 'canceled';
export type Readiness = {
  usable: boolean;
  /** When it became usable: the latest of the build's completion and its agents' readiness; null while not usable. */
  usableAt: Date | null;
  /** The claim hook's outcome when the latest build is a claim, else null. */
  claimHook: { status: ClaimHookStatus; error: string | null } | null;
};

const TERMINAL: Record<string, ClaimHookStatus> = { succeeded: 'succeeded', failed: 'failed', canceled: 'canceled' };

export function workspaceReadiness(build: LatestBuildState | null, agents: readonly AgentState[], deleted: boolean): Readiness {
  const claimHook =
    build && build.transition === 'start' && build.reason === 'claim'
      ? { status: TERMINAL[build.jobStatus] ?? 'pending', error: build.jobStatus === 'failed' ? build.error : null }
      : null;
  const usable = !deleted && build !== null && build.transition === 'start' && build.jobStatus === 'succeeded' && agents.length > 0 && agents.every((a) => a.ready);
  if (!usable) return { usable, usableAt: null, claimHook };
  const instants = [build.completedAt, ...agents.map((a) => a.readyAt)].filter((d): d is Date => d !== null).map((d) => d.getTime());
  return { usable, usableAt: instants.length > 0 ? new Date(Math.max(...instants)) : null, claimHook };
}
