import {
  decideRollout,
  DEFAULT_ROLLOUT_DEADLINE_SECONDS,
  DEFAULT_SURGE,
  isWarm,
  parseSurge,
  resolveSurge,
  ROLLOUT_DEADLINE_RANGE,
  storedDesiredInstances,
  type RolloutDecision,
  type StagedPresetProgress,
  type SurgeSpec,
} from '@warmpool/core';
import { DomainError, type ErrorDetail } from '@warmpool/contracts';
import {
  activateVersion as storeActiveVersion,
  endRollout,
  insertOutbox,
  insertRollout,
  listVersionPresets,
  loadRollout,
  loadStagedPresets,
  lockStagedRollout,
  notificationMessage,
  versionBelongsTo,
  withTransaction,
  type Pool,
  type PoolClient,
  type RolloutRow,
  type StagedPresetRow,
} from '@warmpool/db';
import { withOutboxTransaction, type OutboxDeps } from './outbox-relay.js';
import type { TriggerReconciles } from './reconciles.js';

/** What operator actions on rollouts need (the same as the template operations'). */
type TemplateDeps = { pool: Pool; reconcile: TriggerReconciles };

/** A staged rollout as requested (API query or body, CLI flags): both optional, defaults in core. */
export type RolloutOptions = { surge?: string | undefined; deadlineSeconds?: number | undefined };

/** Checked options: the surge text kept as given (stored for operators), its parsed form and the deadline. */
export type CheckedRollout = { surge: string; spec: SurgeSpec; deadlineSeconds: number };

/**
 * Validates rollout options before anything is stored; `prefix` names where the fields came from (`querystring`,
 * `body`), so a 400 names the field as the caller sent it. Every problem is listed at once.
 */
export function checkRolloutOptions(options: RolloutOptions, prefix: string): CheckedRollout {
  const details: ErrorDetail[] = [];
  const surge = options.surge ?? DEFAULT_SURGE;
  const parsed = parseSurge(surge);
  if (!parsed.ok) details.push({ path: `${prefix}.surge`, message: parsed.error });
  const deadlineSeconds = options.deadlineSeconds ?? DEFAULT_ROLLOUT_DEADLINE_SECONDS;
  const { min, max } = ROLLOUT_DEADLINE_RANGE;
  if (!Number.isInteger(deadlineSeconds) || deadlineSeconds < min || deadlineSeconds > max) {
    details.push({ path: `${prefix}.deadline_seconds`, message: `must be an integer from ${min} to ${max} seconds` });
  }
  if (details.length > 0 || !parsed.ok) throw new DomainError('validation_failed', 'the rollout options are invalid; nothing was stored', details);
  return { surge, spec: parsed.value, deadlineSeconds };
}

/** The staged presets' desired total now: what a percentage surge is a share of. */
function desiredTotal(presets: readonly Pick<StagedPresetRow, 'instances' | 'timezone' | 'schedules'>[], now: Date): number {
  return presets.reduce((n, p) => n + storedDesiredInstances(p, now), 0);
}

/**
 * Starts a staged rollout of a stored version inside the caller's transaction (the import's, or its own): the
 * surge is resolved against the version's desired total now and stored with the deadline.
 */
export async function stageInTransaction(
  client: PoolClient,
  input: { templateId: string; versionId: string; rollout: CheckedRollout; createdBy: string | null; now: Date },
): Promise<RolloutRow> {
  const presets = await loadStagedPresets(client, input.versionId);
  return insertRollout(client, {
    templateId: input.templateId,
    versionId: input.versionId,
    surge: input.rollout.surge,
    surgeBuilds: resolveSurge(input.rollout.spec, desiredTotal(presets, input.now)),
    deadlineSeconds: input.rollout.deadlineSeconds,
    createdBy: input.createdBy,
  });
}

/** Stages an existing version of the template (409 while another rollout runs or when it is the active one). */
export async function stageVersion(
  deps: TemplateDeps,
  input: { templateId: string; versionId: string; options: RolloutOptions; createdBy: string | null },
): Promise<RolloutRow> {
  const rollout = checkRolloutOptions(input.options, 'body');
  const row = await withTransaction(deps.pool, async (client) => {
    if (!(await versionBelongsTo(client, input.versionId, input.templateId))) {
      throw new DomainError('validation_failed', 'the version does not belong to this template', [{ path: 'body.version_id', message: 'unknown version for this template' }]);
    }
    return stageInTransaction(client, { ...input, rollout, now: new Date() });
  });
  await deps.reconcile((await listVersionPresets(deps.pool, input.versionId)).map((p) => p.id), 'rollout-staged');
  return row;
}

/** Per staged preset: what decides promotion plus what operators watch (running, building). */
export type StagedPresetStatus = StagedPresetProgress & { running: number; starting: number; warm: boolean };

export type RolloutProgress = {
  rollout: RolloutRow;
  presets: StagedPresetStatus[];
  /** Staged builds in flight now, template-wide (the surge budget bounds it while staged). */
  inFlight: number;
  /** What the rollout would do now (staged rollouts only; null once ended). */
  decision: RolloutDecision | null;
};

function toProgress(rows: readonly StagedPresetRow[], now: Date): StagedPresetStatus[] {
  return rows.map((p) => {
    const progress: StagedPresetProgress = { presetId: p.presetId, name: p.name, eligible: p.eligible, threshold: storedDesiredInstances(p, now), status: p.status };
    return { ...progress, running: p.running, starting: p.starting, warm: isWarm(progress) };
  });
}

/** A rollout with its per-preset progress; undefined when it is not a rollout of `templateId`. */
export async function rolloutProgress(deps: { pool: TemplateDeps['pool'] }, templateId: string, rolloutId: string, now = new Date()): Promise<RolloutProgress | undefined> {
  const rollout = await loadRollout(deps.pool, rolloutId);
  if (!rollout || rollout.templateId !== templateId) return undefined;
  const presets = toProgress(await loadStagedPresets(deps.pool, rollout.versionId), now);
  return {
    rollout,
    presets,
    inFlight: presets.reduce((n, p) => n + p.starting, 0),
    decision: rollout.state === 'staged' ? decideRollout({ deadlineAt: rollout.deadlineAt, presets }, now) : null,
  };
}

/** What the reconciler needs to end rollouts: the outbox (stop notices) and reconcile triggers. */
export type RolloutDeps = OutboxDeps & Pick<TemplateDeps, 'reconcile'>;

type Ended = { state: 'promoted' | 'failed' | 'canceled'; rollout: RolloutRow; presetIds: string[] };

/**
 * Ends the staged rollout `rolloutId` under its row lock: `decide` sees the progress read after the lock (so two
 * reconcilers never both act) and returns what to do; promotion makes the version active in this transaction.
 * Returns undefined when the rollout is not staged any more, or `decide` chose to wait.
 */
async function endUnderLock(
  client: PoolClient,
  rollout: RolloutRow,
  decide: (presets: StagedPresetStatus[]) => RolloutDecision | { kind: 'cancel' },
  now: Date,
): Promise<(Ended & { decision: RolloutDecision | { kind: 'cancel' } }) | undefined> {
  if ((await lockStagedRollout(client, rollout.templateId)) !== rollout.id) return undefined;
  const presets = toProgress(await loadStagedPresets(client, rollout.versionId), now);
  const decision = decide(presets);
  const staged = presets.map((p) => p.presetId);
  switch (decision.kind) {
    case 'wait':
      return undefined;
    case 'promote': {
      const previous = await storeActiveVersion(client, rollout.templateId, rollout.versionId);
      await endRollout(client, rollout.id, 'promoted', 'warm');
      return { state: 'promoted', rollout, presetIds: [...staged, ...previous], decision };
    }
    case 'cancel':
      await endRollout(client, rollout.id, 'canceled', 'canceled by an operator');
      return { state: 'canceled', rollout, presetIds: staged, decision };
    case 'stop':
      await endRollout(client, rollout.id, 'failed', decision.detail);
      if (decision.presetId) {
        await insertOutbox(client, [notificationMessage({ type: 'rollout-stopped', presetId: decision.presetId, rolloutId: rollout.id, reason: decision.reason, detail: decision.detail.slice(0, 4096) })]);
      }
      return { state: 'failed', rollout, presetIds: staged, decision };
  }
}

/**
 * Looks at a staged rollout after one of its presets was reconciled (or at its deadline wake-up) and ends it when
 * core's decideRollout says so: promoted when warm, stopped (with a notice to template admins) at the deadline or
 * when a staged preset is broken. The presets whose pools change are reconciled at once: on promotion the replaced
 * version's prebuilds are deleted as with an immediate activation, on a stop the staged ones.
 */
export async function advanceRollout(deps: RolloutDeps, rolloutId: string, now = new Date()): Promise<RolloutDecision | null> {
  const rollout = await loadRollout(deps.pool, rolloutId);
  if (!rollout || rollout.state !== 'staged') return null;
  // The cheap unlocked look first: most calls find a rollout still warming.
  const first = decideRollout({ deadlineAt: rollout.deadlineAt, presets: toProgress(await loadStagedPresets(deps.pool, rollout.versionId), now) }, now);
  if (first.kind === 'wait') return first;
  const ended = await withOutboxTransaction(deps, (client) => endUnderLock(client, rollout, (presets) => decideRollout({ deadlineAt: rollout.deadlineAt, presets }, now), now));
  if (!ended) return null;
  deps.logger.info({ rolloutId, templateId: rollout.templateId, versionId: rollout.versionId, state: ended.state, decision: ended.decision }, 'staged rollout ended');
  await deps.reconcile(ended.presetIds, ended.state === 'promoted' ? 'rollout-promoted' : 'rollout-stopped');
  return ended.decision as RolloutDecision;
}

/** Loads a rollout of the template for an operator action: 404 for another template's, 409 once it has ended. */
async function stagedFor(pool: TemplateDeps['pool'], templateId: string, rolloutId: string): Promise<RolloutRow> {
  const rollout = await loadRollout(pool, rolloutId);
  if (!rollout || rollout.templateId !== templateId) throw new DomainError('not_found', 'rollout not found');
  if (rollout.state !== 'staged') throw new DomainError('conflict', `the rollout is already ${rollout.state}: only a staged rollout can be promoted or canceled`);
  return rollout;
}

/**
 * An operator's "promote now" or "cancel": the same locked transition as the automatic one. A rollout that ended
 * meanwhile answers 409 and nothing changes.
 */
export async function endRolloutNow(deps: TemplateDeps, input: { templateId: string; rolloutId: string; action: 'promote' | 'cancel' }): Promise<RolloutRow> {
  const rollout = await stagedFor(deps.pool, input.templateId, input.rolloutId);
  const now = new Date();
  const ended = await withTransaction(deps.pool, (client) => endUnderLock(client, rollout, () => (input.action === 'promote' ? { kind: 'promote' } : { kind: 'cancel' }), now));
  if (!ended) await stagedFor(deps.pool, input.templateId, input.rolloutId); // ended by someone else: answers 409
  if (ended) await deps.reconcile(ended.presetIds, input.action === 'promote' ? 'rollout-promoted' : 'rollout-canceled');
  return (await loadRollout(deps.pool, input.rolloutId))!;
}
