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
import { withOutboxTransaction, type OutboxDeps } from './outbox-relay.js';

export type WorkspaceDeps = OutboxDeps & { queues: QueueSet };

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

/**
 * Creates a workspace claim-first (§5): with a preset, one transaction claims the oldest eligible prebuild, else a
 * fresh workspace and build are created. After a claim the preset is reconciled at once (its pool lost one), without
 * delaying the answer; the build request is relayed after the commit, also in the background.
 */
export async function createWorkspace(deps: WorkspaceDeps, input: CreateWorkspaceInput): Promise<CreateWorkspaceResult> {
  const target = await loadClaimTarget(deps.pool, input.organizationId, input.templateId);
  if (!target) throw new DomainError('not_found', 'template (with an active version) not found');
  if (target.deprecated) throw new DomainError('template_deprecated', 'the template is deprecated: new workspaces cannot be created from it');
  const preset = choosePreset(target, input);
  const resolved = resolveBuildParameters(target.declarations, { ...(input.parameters ?? {}), ...(preset?.parameters ?? {}) });
  if (!resolved.ok) throw new DomainError('validation_failed', resolved.error, [{ path: 'body.parameters', message: resolved.error }]);

  const started = performance.now();
  const result = await withOutboxTransaction(
    deps,
    async (client) => {
      if (preset) {
        const claim = await claimPrebuild(client, { presetId: preset.id, userId: input.userId, name: input.name, priority: BUILD_PRIORITY.human });
        if (claim) return { claimed: true, ...claim };
      }
      const fresh = await createFreshWorkspace(client, {
        organizationId: input.organizationId,
        templateId: target.id,
        templateVersionId: target.activeVersionId,
        presetId: preset?.id ?? null,
        userId: input.userId,
        name: input.name,
        parameters: resolved.parameters,
        priority: BUILD_PRIORITY.human,
      });
      return { claimed: false, ...fresh };
    },
    { background: true },
  );
  const seconds = (performance.now() - started) / 1000;
  if (result.claimed && preset) {
    void enqueueReconcile(deps.queues.reconcile, preset.id, 'claim').catch((err: unknown) => deps.logger.warn({ err }, 'claim reconcile not enqueued; the tick will'));
  }
  const workspace = (await getWorkspace(deps.pool, result.workspaceId))!;
  return {
    claimed: result.claimed,
    presetId: preset?.id ?? null,
    buildId: result.buildId,
    workspace,
    ...(result.claimed && preset ? { claim: { templateName: target.name, presetName: preset.name, seconds } } : {}),
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
