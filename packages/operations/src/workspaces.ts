import { matchPreset, resolveBuildParameters } from '@warmpool/core';
import { BUILD_PRIORITY, DomainError, enqueueReconcile, type QueueSet } from '@warmpool/bus';
import {
  claimPrebuild,
  createFreshWorkspace,
  getWorkspace,
  loadClaimTarget,
  requestWorkspaceDelete,
  type ClaimTarget,
  type WorkspaceRow,
} from '@warmpool/db';
import { withOutboxTraceparent, withOutboxTransaction, type OutboxDeps } from './outbox-relay.js';
import { withSpan } from '@warmpool/runtime';

/** A cache of claim targets by key (the API keeps one per replica, time-bounded); absent = always load. */
export type ClaimTargetCache = {
  get: (key: string, load: () => Promise<ClaimTarget | undefined>) => Promise<ClaimTarget | undefined>;
  delete: (key: string) => void;
};

/** The key of a template's entry in a ClaimTargetCache (routes that retire or re-version a template drop it). */
export const claimTargetKey = (organizationId: string, templateId: string): string => `${organizationId}/${templateId}`;

export type WorkspaceDeps = OutboxDeps & { queues: QueueSet; claimTargets?: ClaimTargetCache };

export type CreateWorkspaceInput = {
  organizationId: string;
  templateId: string;
  userId: string;
  name: string;
  presetId?: string | undefined;
  parameters?: Record<string, string> | undefined;
};

export type CreateWorkspaceResult = {
  claimed: boolean;
  presetId: string | null;
  buildId: string;
  workspace: WorkspaceRow;
  /** Set for claims: what the claim histogram is labelled with, and how long the claim transaction took. */
  claim?: { templateName: string; presetName: string; seconds: number };
  /** Set when a preset applied (its demand): the histogram labels, the transaction time, warm (claim) or cold. */
  request?: { templateName: string; presetName: string; seconds: number; type: 'warm' | 'cold'; source: 'hot' | 'thawed' | 'cold' };
};

type Preset = ClaimTarget['presets'][number];

/** The preset named by id (it must belong to the active version) or matched by parameters (§5), or null. */
function choosePreset(target: ClaimTarget, input: CreateWorkspaceInput): Preset | null {
  if (!input.presetId) return matchPreset(target.presets, input.parameters ?? {});
  const preset = target.presets.find((p) => p.id === input.presetId);
  if (!preset) {
    throw new DomainError('validation_failed', 'the preset does not belong to the active version of this template', [
      { path: 'body.preset_id', message: 'unknown preset for this template' },
    ]);
  }
  return preset;
}

/** The template's active version, its presets and the chosen preset with resolved parameters; throws for bad input. */
async function resolveTarget(deps: WorkspaceDeps, input: CreateWorkspaceInput, fresh: boolean) {
  const key = claimTargetKey(input.organizationId, input.templateId);
  const load = () => loadClaimTarget(deps.pool, input.organizationId, input.templateId);
  if (fresh) deps.claimTargets?.delete(key);
  const target = deps.claimTargets ? await deps.claimTargets.get(key, load) : await load();
  if (!target) throw new DomainError('not_found', 'template (with an active version) not found');
  if (target.deprecated) throw new DomainError('template_deprecated', 'the template is deprecated: new workspaces cannot be created from it');
  const preset = choosePreset(target, input);
  const resolved = resolveBuildParameters(target.declarations, { ...(input.parameters ?? {}), ...(preset?.parameters ?? {}) });
  if (!resolved.ok) {
    const path = resolved.parameter === undefined ? 'body.parameters' : `body.parameters.${resolved.parameter}`;
    throw new DomainError('validation_failed', resolved.error, [{ path, message: resolved.error }]);
  }
  return { target, preset, parameters: resolved.parameters };
}

/**
 * Creates a workspace claim-first (§5). With a preset, one statement claims the oldest eligible prebuild and answers
 * with the claimed row (claim_prebuild: the round trip of the claim is the only one when the template is cached); it
 * re-checks that the (possibly cached) version is still active. Without an eligible prebuild, a fresh workspace and
 * build are created in one transaction whose insert re-checks the version the same way. On 'stale' from either, the
 * target is reloaded and the whole attempt (claim first) made once more. After a claim the preset is reconciled at
 * once (its pool lost one) and the build request relayed, both in the background.
 */
export async function createWorkspace(deps: WorkspaceDeps, input: CreateWorkspaceInput): Promise<CreateWorkspaceResult> {
  // The claim span: how the request was served (warm = a prebuild claimed, cold = a fresh build) is its attribute.
  return withSpan('claim', { attributes: { 'warmpool.template.id': input.templateId } }, async (span) => {
    const result = await createWorkspaceInSpan(deps, input);
    span.setAttributes({ 'warmpool.claim.served': result.claimed ? 'warm' : 'cold', 'warmpool.preset.id': result.presetId ?? '', 'warmpool.build.id': result.buildId, 'warmpool.workspace.id': result.workspace.id });
    return result;
  });
}

async function createWorkspaceInSpan(deps: WorkspaceDeps, input: CreateWorkspaceInput): Promise<CreateWorkspaceResult> {
  const target = await resolveTarget(deps, input, false);
  const started = performance.now();
  const first = await claimOrCreate(deps, input, target, started);
  if (first !== 'stale') return first;
  // The (cached) target was retired or replaced: reload it, which answers 404/409 as an uncached create would.
  const second = await claimOrCreate(deps, input, await resolveTarget(deps, input, true), started);
  if (second === 'stale') throw new DomainError('conflict', 'the template changed while the workspace was being created; try again');
  return second;
}

/** One attempt on a resolved target: claim a prebuild of its preset, else build fresh; 'stale' when both SQL re-checks say the target is no longer current. */
async function claimOrCreate(
  deps: WorkspaceDeps,
  input: CreateWorkspaceInput,
  { target, preset, parameters }: Awaited<ReturnType<typeof resolveTarget>>,
  started: number,
): Promise<CreateWorkspaceResult | 'stale'> {
  if (preset) {
    const outcome = await withOutboxTraceparent(deps.pool, (db) => claimPrebuild(db, { presetId: preset.id, userId: input.userId, name: input.name, priority: BUILD_PRIORITY.human, templateId: target.id, versionId: target.activeVersionId }));
    if (outcome.outcome === 'stale') return 'stale';
    if (outcome.outcome === 'claimed') {
      const seconds = (performance.now() - started) / 1000;
      void deps.relay.flush().catch((err: unknown) => deps.logger.warn({ err }, 'outbox flush failed; the relay poll will deliver'));
      void enqueueReconcile(deps.queues.reconcile, preset.id, 'claim').catch((err: unknown) => deps.logger.warn({ err }, 'claim reconcile not enqueued; the tick will'));
      return {
        claimed: true,
        presetId: preset.id,
        buildId: outcome.buildId,
        workspace: outcome.workspace,
        claim: { templateName: target.name, presetName: preset.name, seconds },
        request: { templateName: target.name, presetName: preset.name, seconds, type: 'warm', source: outcome.source },
      };
    }
  }
  const fresh = await withOutboxTransaction(
    deps,
    (client) =>
      createFreshWorkspace(client, {
        organizationId: input.organizationId,
        templateId: target.id,
        templateVersionId: target.activeVersionId,
        presetId: preset?.id ?? null,
        userId: input.userId,
        name: input.name,
        parameters,
        priority: BUILD_PRIORITY.human,
      }),
    { background: true },
  );
  if (fresh.outcome === 'stale') return 'stale';
  const workspace = (await getWorkspace(deps.pool, fresh.workspaceId))!;
  const seconds = (performance.now() - started) / 1000;
  return {
    claimed: false,
    presetId: preset?.id ?? null,
    buildId: fresh.buildId,
    workspace,
    ...(preset ? { request: { templateName: target.name, presetName: preset.name, seconds, type: 'cold' as const, source: 'cold' as const } } : {}),
  };
}

/**
 * Requests deletion of a workspace (§4.4, §7): locks it, lets `authorize` decide on the locked row (it throws to
 * refuse), refuses a second delete, and writes the delete build with its request. Returns the build id.
 */
export async function deleteWorkspace(
  deps: OutboxDeps,
  input: { workspaceId: string; initiatorId: string; authorize: (workspace: WorkspaceRow) => void },
): Promise<string> {
  return withOutboxTransaction(deps, async (client) => {
    const ws = await getWorkspace(client, input.workspaceId, { forUpdate: true });
    if (!ws || ws.deleted) throw new DomainError('not_found', 'workspace not found');
    input.authorize(ws);
    if (ws.latest_build?.transition === 'delete' && ['pending', 'running', 'succeeded'].includes(ws.latest_build.job_status)) {
      throw new DomainError('conflict', 'the workspace is already being deleted');
    }
    return requestWorkspaceDelete(client, ws, input.initiatorId, BUILD_PRIORITY.human);
  });
}
