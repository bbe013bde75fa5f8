import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import { BuildResult, describeIssues, endsBuild, enqueueReconcile, enqueueReconciles, QUEUES, WORKER_TIMING, withJobSpan, type QueueSet, type ReconcileTrigger, type ServiceWiring } from '@warmpool/bus';
import { applyBuildResult, applyStandbyDone, applyWorkspaceLost, insertOutbox, notificationMessage, recordProvisionerSeen, stagedSiblings, type Pool } from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';
import { handOffFreeSlots } from './cap-sharing.js';
import { withOutboxTransaction, type OutboxRelay } from './outbox-relay.js';

export type BuildResultsDeps = {
  pool: Pool;
  queues: QueueSet;
  relay: OutboxRelay;
  logger: Logger;
  /** Observes workspace creation durations (metrics); optional. */
  onCreation?: (type: 'prebuild' | 'regular', seconds: number) => void;
  /** Observes freezes and thaws done or failed, and thaw-to-usable durations (metrics); optional. */
  onStandby?: (event: { action: 'freeze' | 'thaw'; outcome: 'done' | 'failed'; reason: 'refill' | 'claim'; seconds?: number }) => void;
};

// A build that starts changes no plan (pending and running both count as in progress): no reconcile.
const TRIGGER: Record<BuildResult['type'], ReconcileTrigger | null> = {
  'build-started': null,
  'build-succeeded': 'build-finished',
  'build-failed': 'build-finished',
  'agent-ready': 'agent-ready',
  'build-canceled': 'build-finished',
  'workspace-lost': 'workspace-lost',
  'standby-done': 'standby-done',
  // A failed freeze or thaw is asked for again after STANDBY_RETRY_MS, not at once (no reconcile loop).
  'standby-failed': null,
  'provisioner-seen': null,
};

/** What became of one result: applied, or rejected (logged, never retried) with the reason. */
export type BuildResultOutcome = { kind: 'applied' } | { kind: 'rejected'; reason: string };

/**
 * Handles one provisioner result (BEHAVIOUR.md §6.3): validates it, applies it idempotently, turns a claim build's
 * resource replacements into a notifier event (outbox, same transaction), and reconciles the preset at once.
 * Malformed payloads, unknown builds and second terminal results are logged and rejected without retries.
 */
export async function handleBuildResult(deps: BuildResultsDeps, data: unknown, log: Logger): Promise<BuildResultOutcome> {
  const parsed = BuildResult.safeParse(data);
  if (!parsed.success) {
    log.error({ problem: describeIssues(parsed.error) }, 'malformed build result rejected');
    throw new UnrecoverableError(`malformed build result: ${describeIssues(parsed.error)}`);
  }
  const result = parsed.data;
  if (result.type === 'workspace-lost') return handleWorkspaceLost(deps, result, log);
  if (result.type === 'standby-done' || result.type === 'standby-failed' || result.type === 'provisioner-seen') return handleStandbyResult(deps, result, log);
  const recorded = await withOutboxTransaction({ ...deps, logger: log }, async (client) => {
    const outcome = await applyBuildResult(client, result);
    if (outcome.kind === 'applied' && outcome.replacements && outcome.presetId) {
      const message = notificationMessage({
        type: 'resource-replacements',
        presetId: outcome.presetId,
        workspaceId: outcome.workspaceId,
        buildId: result.buildId,
        buildNumber: outcome.buildNumber,
        claimantId: outcome.initiatorId,
        replacements: outcome.replacements,
      });
      await insertOutbox(client, [message]);
    }
    return outcome;
  });
  if (recorded.kind === 'early') {
    // A normal error: BullMQ retries it with backoff, by which time the earlier result has been recorded.
    throw new Error(`${result.type} arrived early: ${recorded.reason}`);
  }
  if (recorded.kind === 'rejected') {
    log.warn({ type: result.type, buildId: result.buildId, reason: recorded.reason }, 'build result rejected');
    return recorded;
  }
  if (recorded.creation) deps.onCreation?.(recorded.creation.type, recorded.creation.seconds);
  const trigger = TRIGGER[result.type];
  if (recorded.presetId && trigger) await enqueueReconcile(deps.queues.reconcile, recorded.presetId, trigger);
  // A create that ended freed its in-flight slot (trigger, same transaction): hand it to the presets next in line.
  if (recorded.reason === 'prebuild-create' && endsBuild(result)) {
    await handOffFreeSlots(deps.pool, deps.queues, log);
    // A staged build that ended gave back surge budget (§4.7): the rollout's other presets may use it now.
    if (recorded.presetId) await enqueueReconciles(deps.queues.reconcile, await stagedSiblings(deps.pool, recorded.presetId), 'surge-free');
  }
  log.debug({ type: result.type, buildId: result.buildId }, 'build result applied');
  return { kind: 'applied' };
}

/** A lost prebuild gets its delete build and request (one transaction) and is replaced by the reconcile. */
async function handleWorkspaceLost(deps: BuildResultsDeps, result: Extract<BuildResult, { type: 'workspace-lost' }>, log: Logger): Promise<BuildResultOutcome> {
  const outcome = await withOutboxTransaction({ ...deps, logger: log }, (client) => applyWorkspaceLost(client, result.workspaceId));
  if (outcome.kind === 'rejected') {
    log.info({ workspaceId: result.workspaceId, reason: outcome.reason }, 'workspace-lost ignored');
    return outcome;
  }
  log.warn({ workspaceId: result.workspaceId, reason: result.reason }, 'prebuild lost outside Warmpool; replacing it');
  const trigger = TRIGGER[result.type];
  if (outcome.presetId && trigger) await enqueueReconcile(deps.queues.reconcile, outcome.presetId, trigger);
  return { kind: 'applied' };
}

type StandbyResult = Extract<BuildResult, { type: 'standby-done' | 'standby-failed' | 'provisioner-seen' }>;

/**
 * Standby tiers (issue 25): a provisioner's capabilities are recorded; a freeze or thaw done is recorded when it is
 * still what Warmpool wants and the preset is reconciled (a thaw may have to be followed by another); a failure is
 * logged and asked for again later by the reconcile.
 */
async function handleStandbyResult(deps: BuildResultsDeps, result: StandbyResult, log: Logger): Promise<BuildResultOutcome> {
  if (result.type === 'provisioner-seen') {
    await recordProvisionerSeen(deps.pool, { ...result, at: new Date(result.at) });
    return { kind: 'applied' };
  }
  if (result.type === 'standby-failed') {
    deps.onStandby?.({ action: result.action, outcome: 'failed', reason: 'refill' });
    log.warn({ workspaceId: result.workspaceId, action: result.action, error: result.error }, 'freeze or thaw failed; asked for again later');
    return { kind: 'applied' };
  }
  const reason = result.reason ?? 'refill';
  deps.onStandby?.({ action: result.action, outcome: 'done', reason, ...(result.durationMs === undefined ? {} : { seconds: result.durationMs / 1000 }) });
  if (reason === 'claim') return { kind: 'applied' }; // the claim build's own result clears the tier
  const presetId = await applyStandbyDone(deps.pool, { ...result, at: new Date(result.at) });
  if (presetId === null) {
    log.info({ workspaceId: result.workspaceId, action: result.action }, 'standby result no longer wanted (claimed, deleted or asked otherwise since)');
    return { kind: 'rejected', reason: 'no longer wanted' };
  }
  const trigger = TRIGGER[result.type];
  if (trigger) await enqueueReconcile(deps.queues.reconcile, presetId, trigger);
  return { kind: 'applied' };
}

/** The worker consuming QUEUES.buildResults, made by the service's wiring (which logs its errors and closes it). */
export function createBuildResultsWorker(deps: BuildResultsDeps & { worker: ServiceWiring['worker']; concurrency: number }): Worker {
  const worker = deps.worker(
    QUEUES.buildResults,
    async (job: Job) => {
      const buildId = (job.data as { buildId?: unknown })?.buildId;
      const log = deps.logger.child({ queue: QUEUES.buildResults, jobId: job.id, buildId });
      return withJobSpan(job, 'build result', { 'warmpool.build.result': job.name, 'warmpool.build.id': String(buildId) }, () => handleBuildResult(deps, job.data, log));
    },
    { concurrency: deps.concurrency, ...WORKER_TIMING.buildResults },
  );
  // Malformed payloads are logged by the handler; this catches results that ran out of retries (an
  // agent-ready whose build never finished, a database outage) so they are not dropped silently.
  worker.on('failed', (job, err) => {
    if (!job || err instanceof UnrecoverableError || err.name === 'UnrecoverableError') return;
    if (job.attemptsMade >= (job.opts.attempts ?? 1)) {
      deps.logger.error({ queue: QUEUES.buildResults, jobId: job.id, attempts: job.attemptsMade, err: err.message }, 'build result given up after retries');
    }
  });
  return worker;
}
