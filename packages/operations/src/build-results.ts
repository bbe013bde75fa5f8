import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { BuildResult, describeIssues, endsBuild, enqueueReconcile, QUEUES, WORKER_TIMING, queuePrefix, type QueueSet, type ReconcileTrigger } from '@warmpool/bus';
import { applyBuildResult, applyWorkspaceLost, followLostWorkspace, insertOutbox, notificationMessage, type ClaimFollowUp, type Pool, type UsableClaim } from '@warmpool/db';
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
  /** Observes a claim with options that became usable (source, mode, predicted and actual time); optional. */
  onClaimUsable?: (claim: UsableClaim) => void;
  /** Observes a reservation that fell back to a cold build; optional. */
  onClaimFallback?: (reason: string) => void;
};

/** Logs and observes what a result did to an open claim (BEHAVIOUR.md §5.1). */
function observeClaim(deps: BuildResultsDeps, follow: ClaimFollowUp | undefined, log: Logger): void {
  if (!follow || follow.kind === 'none') return;
  if (follow.kind === 'usable') deps.onClaimUsable?.(follow.claim);
  if (follow.kind === 'fallback') {
    deps.onClaimFallback?.(follow.reason);
    log.info({ reason: follow.reason, fallbackBuildId: follow.buildId }, 'reserved prebuild not usable: the workspace builds cold');
  }
}

// A build that starts changes no plan (pending and running both count as in progress): no reconcile.
const TRIGGER: Record<BuildResult['type'], ReconcileTrigger | null> = {
  'build-started': null,
  'build-succeeded': 'build-finished',
  'build-failed': 'build-finished',
  'agent-ready': 'agent-ready',
  'build-canceled': 'build-finished',
  'workspace-lost': 'workspace-lost',
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
  observeClaim(deps, recorded.claim, log);
  const trigger = TRIGGER[result.type];
  if (recorded.presetId && trigger) await enqueueReconcile(deps.queues.reconcile, recorded.presetId, trigger);
  // A create that ended freed its in-flight slot (trigger, same transaction): hand it to the presets next in line.
  if (recorded.reason === 'prebuild-create' && endsBuild(result)) await handOffFreeSlots(deps.pool, deps.queues, log);
  log.debug({ type: result.type, buildId: result.buildId }, 'build result applied');
  return { kind: 'applied' };
}

/** A lost prebuild gets its delete build and request (one transaction) and is replaced by the reconcile. */
async function handleWorkspaceLost(deps: BuildResultsDeps, result: Extract<BuildResult, { type: 'workspace-lost' }>, log: Logger): Promise<BuildResultOutcome> {
  const outcome = await withOutboxTransaction({ ...deps, logger: log }, async (client) => {
    const lost = await applyWorkspaceLost(client, result.workspaceId);
    // Not a live prebuild: a reserved one (its claimant waits for it) falls back to a cold build instead.
    return lost.kind === 'rejected' ? { ...lost, claim: await followLostWorkspace(client, result.workspaceId, new Date(result.at)) } : lost;
  });
  if (outcome.kind === 'rejected') {
    observeClaim(deps, outcome.claim, log);
    if (outcome.claim.kind !== 'none') return { kind: 'applied' };
    log.info({ workspaceId: result.workspaceId, reason: outcome.reason }, 'workspace-lost ignored');
    return { kind: 'rejected', reason: outcome.reason };
  }
  log.warn({ workspaceId: result.workspaceId, reason: result.reason }, 'prebuild lost outside Warmpool; replacing it');
  const trigger = TRIGGER[result.type];
  if (outcome.presetId && trigger) await enqueueReconcile(deps.queues.reconcile, outcome.presetId, trigger);
  return { kind: 'applied' };
}

/** The worker consuming QUEUES.buildResults; closed by the caller. */
export function createBuildResultsWorker(
  deps: BuildResultsDeps & { connection: ConnectionOptions; prefix: string; concurrency: number },
): Worker {
  const worker = new Worker(
    QUEUES.buildResults,
    async (job: Job) => {
      const log = deps.logger.child({ queue: QUEUES.buildResults, jobId: job.id, buildId: (job.data as { buildId?: unknown })?.buildId });
      return handleBuildResult(deps, job.data, log);
    },
    { connection: deps.connection, prefix: queuePrefix(deps.prefix), concurrency: deps.concurrency, ...WORKER_TIMING.buildResults },
  );
  worker.on('error', (err) => deps.logger.error({ err }, 'build results worker error'));
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
