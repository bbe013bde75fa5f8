import type Docker from 'dockerode';
import { WorkspaceSchema, type WorkspaceSpec } from '@warmpool/core';
import { loadBuildTarget, type BuildTarget, type Pool } from '@warmpool/db';
import type { BuildContext, BuildOutcome, ProvisionerBackend } from '@warmpool/provisioner-kit';
import { containerConfig, engineMessage, ensureRunning, execIn, inspectWorkspace, isRetryable, removeWorkspace, stopWorkspace } from './engine.js';
import type { EngineEvents } from './events.js';
import type { DockerOptions } from './options.js';
import { BuildRefusal } from './refusal.js';

export const AGENT = 'main';
/** Reported by a claim build that had to recreate the container (it was gone). */
export const RECREATED = { 'docker_container.workspace': ['id'] };

export type DockerBackendDeps = {
  docker: Docker;
  pool: Pool;
  events: EngineEvents;
  options: DockerOptions;
  /** Containers this provisioner stops or removes itself: their die/destroy events are not drift. */
  expectGone: (workspaceId: string) => void;
  /** A (re)started container: its death from now on is drift again. */
  expectAlive: (workspaceId: string) => void;
};

const failed = (error: string, retryable: boolean): BuildOutcome => ({ kind: 'failed', error, retryable });

/** The version's workspace block, or the reason it cannot be used (stored data is re-validated, never trusted). */
function specOf(target: BuildTarget): { spec: WorkspaceSpec } | { problem: string } {
  if (target.workspace === null || target.workspace === undefined) return { problem: 'the template version has no workspace block: nothing to run' };
  const parsed = WorkspaceSchema.safeParse(target.workspace);
  return parsed.success ? { spec: parsed.data } : { problem: `the stored workspace block is invalid: ${parsed.error.issues[0]?.message ?? 'unknown'}` };
}

/** Reports the agent ready once the engine calls the container healthy, without holding the build's slot. */
function reportWhenReady(deps: DockerBackendDeps, ctx: BuildContext, containerId: string): void {
  ctx.background(async (shutdown) => {
    try {
      await deps.events.waitReady(containerId, shutdown);
    } catch (err) {
      // A container that dies first is drift (reported by the event handler); shutdown is picked up at restart.
      ctx.log.info({ err: (err as Error).message }, 'agent not ready');
      return;
    }
    await ctx.reportAgentReady(AGENT);
  });
}

/** A start build: create or adopt the container and start it; canceled or failed ones leave nothing behind. */
async function startWorkspace(deps: DockerBackendDeps, ctx: BuildContext, target: BuildTarget, spec: WorkspaceSpec): Promise<BuildOutcome> {
  const { docker, options } = deps;
  const config = containerConfig(spec, target, ctx.request.parameters, options);
  let container: { id: string; created: boolean };
  try {
    container = await ensureRunning(docker, config, target.workspaceId, options.instance);
  } catch (err) {
    // Someone else's container or volume under the name: not ours to clean up.
    if (err instanceof BuildRefusal) throw err;
    // Leave nothing half-made behind a failed create or start.
    deps.expectGone(target.workspaceId);
    await removeWorkspace(docker, target.workspaceId, options.instance).catch(() => undefined);
    return failed(engineMessage(err), isRetryable(err));
  }
  if (ctx.signal.aborted) {
    deps.expectGone(target.workspaceId);
    await removeWorkspace(docker, target.workspaceId, options.instance);
    return { kind: 'canceled', reason: String((ctx.signal.reason as Error | undefined)?.message ?? 'canceled') };
  }
  deps.expectAlive(target.workspaceId);
  if (!spec.healthcheck) return { kind: 'succeeded', agents: [{ name: AGENT, ready: true }] };
  reportWhenReady(deps, ctx, container.id);
  return { kind: 'succeeded', agents: [{ name: AGENT, ready: false }] };
}

/** A claim build: keep the running container (recreate it if gone, reported as a replacement), run the claim hook. */
async function claimWorkspace(deps: DockerBackendDeps, ctx: BuildContext, target: BuildTarget, spec: WorkspaceSpec): Promise<BuildOutcome> {
  const { docker, options } = deps;
  const before = await inspectWorkspace(docker, target.workspaceId, options.instance);
  const outcome = before?.State.Running ? null : await startWorkspace(deps, ctx, target, spec);
  if (outcome && outcome.kind !== 'succeeded') return outcome;
  const info = await inspectWorkspace(docker, target.workspaceId, options.instance);
  if (!info) return failed('the container vanished during the claim', true);
  if (spec.claim_hook) {
    const env = { WARMPOOL_OWNER_NAME: target.ownerName, WARMPOOL_OWNER_ID: target.ownerId, WARMPOOL_WORKSPACE_NAME: target.workspaceName };
    try {
      const hook = await execIn(docker, info.Id, spec.claim_hook.command, env, spec.claim_hook.timeout_seconds * 1000);
      if (hook.exitCode !== 0) return failed(`claim hook exited with status ${hook.exitCode}: ${hook.output.trim()}`, true);
    } catch (err) {
      return failed(`claim hook: ${engineMessage(err)}`, isRetryable(err));
    }
  }
  const healthy = !info.State.Health || info.State.Health.Status === 'healthy';
  if (!healthy) reportWhenReady(deps, ctx, info.Id);
  // Replacements only when something really had to be recreated.
  const recreated = before === null || (outcome?.kind === 'succeeded' && before.Id !== info.Id);
  return { kind: 'succeeded', agents: [{ name: AGENT, ready: healthy }], ...(recreated ? { replacements: RECREATED } : {}) };
}

/** A delete (container and volume removed) or stop build. Passing engine trouble throws, so the kit retries it. */
async function stopOrRemove(deps: DockerBackendDeps, transition: 'stop' | 'delete', workspaceId: string): Promise<BuildOutcome> {
  const { docker, options } = deps;
  try {
    deps.expectGone(workspaceId);
    if (transition === 'delete') await removeWorkspace(docker, workspaceId, options.instance);
    else await stopWorkspace(docker, workspaceId, options.instance, options.stopTimeoutSeconds);
    return { kind: 'succeeded', agents: [] };
  } catch (err) {
    if (err instanceof BuildRefusal) throw err;
    if (isRetryable(err)) throw new Error(engineMessage(err), { cause: err });
    return failed(engineMessage(err), false);
  }
}

/**
 * Docker Engine backend of the provisioner kit: one container (plus a named volume) per workspace. Start builds
 * create or adopt and start it, claim builds keep it and run the claim hook, stop builds stop it, delete builds
 * remove container and volume. Engine refusals become build-failed with the engine's message, and so do the builds
 * this provisioner refuses itself (BuildRefusal: a foreign container of the name, bad parameters, resources over
 * the ceiling).
 */
export function createDockerBackend(deps: DockerBackendDeps): ProvisionerBackend {
  return {
    build: async (ctx) => {
      try {
        return await build(deps, ctx);
      } catch (err) {
        if (err instanceof BuildRefusal) return failed(err.message, false);
        throw err;
      }
    },
  };
}

/** One build request: its target loaded, dispatched by transition and reason. */
async function build(deps: DockerBackendDeps, ctx: BuildContext): Promise<BuildOutcome> {
  const { request } = ctx;
  const target = await loadBuildTarget(deps.pool, request.buildId);
  if (!target) return failed('unknown build: no such build in the database', false);
  if (request.transition !== 'start') return stopOrRemove(deps, request.transition, target.workspaceId);
  if (request.reason === 'prebuild-create' && !target.active) {
    // Cancellation by pull: a prebuild of a version that stopped being active would be deleted at once.
    return { kind: 'canceled', reason: 'the template version is no longer active' };
  }
  const found = specOf(target);
  if ('problem' in found) return failed(found.problem, false);
  return request.reason === 'claim' ? claimWorkspace(deps, ctx, target, found.spec) : startWorkspace(deps, ctx, target, found.spec);
}
