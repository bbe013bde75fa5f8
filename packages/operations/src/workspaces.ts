import { chooseHistory, decideClaim, matchPreset, resolveBuildParameters, retryAfterSeconds, type ClaimMode, type ClaimSource } from '@warmpool/core';
import { armWakeUp, BUILD_PRIORITY, buildRequestKey, DomainError, enqueueReconcile, PrebuildUnavailableError, type QueueSet, type ReconcileTrigger } from '@warmpool/bus';
import {
  claimPrebuild,
  createFreshWorkspace,
  fallBackOverdueReservations,
  getWorkspace,
  loadClaimTarget,
  loadReservationInputs,
  recordClaim,
  requestWorkspaceDelete,
  reservePrebuild,
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
  /** Claim options (BEHAVIOUR.md §5.1); absent = today's claim-or-cold, nothing recorded beyond it. */
  claimOptions?: { mode: ClaimMode; budgetMs: number } | undefined;
};

/** The wake-up trigger that makes the reconciler fall back overdue reservations (the timer is the preset's). */
export const RESERVATION_DEADLINE_TRIGGER: ReconcileTrigger = 'reservation-deadline';

/**
 * Provisioner slots assumed when predicting a cold build's queue wait (human builds ahead / slots service times).
 * The Docker provisioner's default concurrency; a wrong guess only shifts the cold prediction.
 */
const COLD_QUEUE_SLOTS = 4;

export type CreateWorkspaceResult = {
  claimed: boolean;
  /** How it is served: a pool prebuild, an in-flight prebuild reserved for the user, or a cold build. */
  source: ClaimSource;
  /** Predicted time to usable (ms) when claim options were given and a history allowed one. */
  predictedMs: number | null;
  presetId: string | null;
  buildId: string;
  workspace: WorkspaceRow;
  /** Set for claims: what the claim histogram is labelled with, and how long the claim transaction took. */
  claim?: { templateName: string; presetName: string; seconds: number };
  /** Set when a preset applied (its demand): the histogram labels, the transaction time, warm (claim) or cold. */
  request?: { templateName: string; presetName: string; seconds: number; type: 'warm' | 'cold'; source: 'hot' | 'thawed' | 'reserved' | 'cold' };
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
  const options = input.claimOptions;
  if (options?.mode === 'require' && !preset) {
    throw new DomainError('validation_failed', 'mode require needs a preset: no preset of this template applies', [{ path: 'body.mode', message: 'no preset applies, so no prebuild can be required' }]);
  }
  if (preset && options?.mode !== 'bypass') {
    const outcome = await withOutboxTraceparent(deps.pool, (db) => claimPrebuild(db, { presetId: preset.id, userId: input.userId, name: input.name, priority: BUILD_PRIORITY.human, templateId: target.id, versionId: target.activeVersionId }));
    if (outcome.outcome === 'stale') return 'stale';
    if (outcome.outcome === 'claimed') {
      const seconds = (performance.now() - started) / 1000;
      void deps.relay.flush().catch((err: unknown) => deps.logger.warn({ err }, 'outbox flush failed; the relay poll will deliver'));
      void enqueueReconcile(deps.queues.reconcile, preset.id, 'claim').catch((err: unknown) => deps.logger.warn({ err }, 'claim reconcile not enqueued; the tick will'));
      if (options) await recordClaim(deps.pool, { workspaceId: outcome.workspaceId, presetId: preset.id, ...options, source: 'pool', buildId: outcome.buildId, predictedMs: null });
      return {
        claimed: true,
        source: 'pool',
        predictedMs: null,
        presetId: preset.id,
        buildId: outcome.buildId,
        workspace: outcome.workspace,
        claim: { templateName: target.name, presetName: preset.name, seconds },
        request: { templateName: target.name, presetName: preset.name, seconds, type: 'warm', source: outcome.source },
      };
    }
  }
  let coldPredictedMs: number | null = null;
  if (preset && options) {
    const next = await reserveOrDecide(deps, input, { target, preset }, options, started);
    if (next === 'stale' || !('kind' in next)) return next;
    coldPredictedMs = next.predictedMs;
  }
  const fresh = await withOutboxTransaction(
    deps,
    async (client) => {
      const created = await createFreshWorkspace(client, {
        organizationId: input.organizationId,
        templateId: target.id,
        templateVersionId: target.activeVersionId,
        presetId: preset?.id ?? null,
        userId: input.userId,
        name: input.name,
        parameters,
        priority: BUILD_PRIORITY.human,
        demand: options?.mode !== 'bypass',
      });
      if (created.outcome === 'created' && preset && options) {
        await recordClaim(client, { workspaceId: created.workspaceId, presetId: preset.id, ...options, source: 'cold', buildId: created.buildId, predictedMs: coldPredictedMs });
      }
      return created;
    },
    { background: true },
  );
  if (fresh.outcome === 'stale') return 'stale';
  const workspace = (await getWorkspace(deps.pool, fresh.workspaceId))!;
  const seconds = (performance.now() - started) / 1000;
  return {
    claimed: false,
    source: 'cold',
    predictedMs: coldPredictedMs,
    presetId: preset?.id ?? null,
    buildId: fresh.buildId,
    workspace,
    ...(preset ? { request: { templateName: target.name, presetName: preset.name, seconds, type: 'cold' as const, source: 'cold' as const } } : {}),
  };
}

/**
 * A user now waits for the reserved create: if it still waits in the provisioner's queue, it moves up to human
 * priority, as a cold build would have (otherwise other users' cold builds overtake it). Best effort: a create
 * already taken, or not yet relayed (its outbox row keeps the prebuild priority), keeps its place.
 */
async function hurryReservedCreate(queues: QueueSet, buildId: string): Promise<void> {
  const job = await queues.buildRequests.getJob(buildRequestKey(buildId));
  if (!job) return;
  const state = await job.getState();
  if (state === 'waiting' || state === 'prioritized') await job.changePriority({ priority: BUILD_PRIORITY.human });
}

const unavailable = (retryAfterMs: number | null, level: string) =>
  new PrebuildUnavailableError(
    retryAfterMs === null
      ? 'no prebuild is eligible or in flight within the wait budget, and there is no build history to predict one'
      : `no prebuild is eligible or usable within the wait budget; one is predicted in ${Math.ceil(retryAfterMs / 1000)} s (history: ${level})`,
    retryAfterSeconds(retryAfterMs),
  );

/**
 * A claim with options that found no eligible prebuild (BEHAVIOUR.md §5.1): the core decides from the preset's
 * duration history and its in-flight prebuilds whether to reserve one (answered at once; the build results complete
 * it), build cold, or (require) answer unavailable. A reservation that lost every candidate to others builds cold,
 * or is unavailable under require.
 */
async function reserveOrDecide(
  deps: WorkspaceDeps,
  input: CreateWorkspaceInput,
  { target, preset }: { target: ClaimTarget; preset: Preset },
  options: { mode: ClaimMode; budgetMs: number },
  started: number,
): Promise<CreateWorkspaceResult | 'stale' | { kind: 'cold'; predictedMs: number | null }> {
  const inputs = await loadReservationInputs(deps.pool, preset.id);
  if (!inputs) return 'stale';
  if (options.mode === 'require' && !inputs.keepsPrebuilds) {
    throw new DomainError('validation_failed', `preset ${JSON.stringify(preset.name)} keeps no prebuilds: mode require can never be served`, [
      { path: 'body.mode', message: 'the preset keeps no prebuilds' },
    ]);
  }
  const history = chooseHistory(inputs.history);
  const decision = decideClaim({ mode: options.mode, budgetMs: options.budgetMs, history, inflight: inputs.inflight, humanBuildsAhead: inputs.humanBuildsAhead, slots: COLD_QUEUE_SLOTS });
  if (decision.kind === 'cold') return { kind: 'cold', predictedMs: decision.predictedMs };
  if (decision.kind === 'unavailable') throw unavailable(decision.retryAfterMs, decision.level);
  const reserved = await reservePrebuild(deps.pool, {
    candidates: decision.candidates,
    presetId: preset.id,
    userId: input.userId,
    name: input.name,
    templateId: target.id,
    versionId: target.activeVersionId,
    ...options,
  });
  if (reserved.outcome !== 'reserved') {
    if (reserved.outcome === 'stale') return 'stale';
    // Others took every candidate first.
    if (options.mode === 'require') throw unavailable(decision.candidates[0]?.predictedMs ?? null, decision.level);
    return { kind: 'cold', predictedMs: decision.coldMs };
  }
  // The pool lost a prebuild (refill now); the deadline falls back to cold if the create is not usable by then.
  void enqueueReconcile(deps.queues.reconcile, preset.id, 'claim').catch((err: unknown) => deps.logger.warn({ err }, 'reservation reconcile not enqueued; the tick will'));
  void armWakeUp(deps.queues.reconcile, preset.id, new Date(Date.now() + options.budgetMs), RESERVATION_DEADLINE_TRIGGER).catch((err: unknown) =>
    deps.logger.warn({ err }, 'reservation deadline not armed; the reconciler sweep will catch it'),
  );
  const workspace = (await getWorkspace(deps.pool, reserved.workspaceId))!;
  void hurryReservedCreate(deps.queues, workspace.latest_build!.id).catch((err: unknown) => deps.logger.debug({ err }, 'reserved create kept its queue priority'));
  const seconds = (performance.now() - started) / 1000;
  return {
    claimed: true,
    source: 'reserved',
    predictedMs: reserved.predictedMs,
    presetId: preset.id,
    buildId: workspace.latest_build!.id,
    workspace,
    request: { templateName: target.name, presetName: preset.name, seconds, type: 'warm', source: 'reserved' },
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

/**
 * Reservations whose budget ran out before their prebuild was usable fall back to a cold build of the same
 * workspace (a user start at human priority: it adopts what the create already made, or builds anew). Run by the
 * reconciler at each reservation's deadline (a wake-up of its preset) and every few seconds as a safety net.
 */
export async function fallBackOverdue(deps: OutboxDeps): Promise<number> {
  const done = await withOutboxTransaction(deps, (client) => fallBackOverdueReservations(client));
  for (const d of done) deps.logger.info({ workspaceId: d.workspaceId, presetId: d.presetId, fallbackBuildId: d.buildId }, 'reservation overran its wait budget: the workspace builds cold');
  return done.length;
}
