import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { BuildRequested, createQueueSet, createRedis, describeIssues, QUEUES, WORKER_TIMING, queuePrefix, type BuildResult } from '@warmpool/bus';
import type { Logger, RedisTarget } from '@warmpool/runtime';
import { Reporter, type ReporterOptions } from './reporter.js';

/** What a backend concludes about one build. The kit turns it into exactly one terminal result. */
export type BuildOutcome =
  | {
      kind: 'succeeded';
      /** Agents of a start build; `ready: false` ones are reported ready later with `ctx.reportAgentReady`. */
      agents?: { name: string; ready: boolean }[];
      /** Claim builds: resources that had to be recreated, `{ address: [attribute paths] }`. */
      replacements?: Record<string, string[]>;
    }
  | { kind: 'failed'; error: string; retryable: boolean }
  | { kind: 'canceled'; reason: string };

export type BuildContext = {
  request: BuildRequested;
  /**
   * Aborted when the build is canceled (a delete of the same workspace overtook it); `signal.reason` says why.
   * A backend that sees it cleans up what it made and returns `{ kind: 'canceled' }` (or throws).
   */
  signal: AbortSignal;
  log: Logger;
  /** Reports one agent ready; idempotent (fixed job id), retried while Redis is away. */
  reportAgentReady: (agent: string) => Promise<void>;
  /**
   * Work that continues after the result without holding a worker slot (waiting for an agent). Its signal aborts
   * at shutdown once the grace time is over; `close()` waits for it until then.
   */
  background: (task: (signal: AbortSignal) => Promise<void>) => void;
};

export type ProvisionerBackend = {
  build: (ctx: BuildContext) => Promise<BuildOutcome>;
};

export type ProvisionerOptions = {
  /** One Redis server or a cluster: the configuration's `redis`, or a REDIS_URL-style string. */
  redis: RedisTarget | string;
  queuePrefix: string;
  logger: Logger;
  backend: ProvisionerBackend;
  /** Builds run at once (worker slots). */
  concurrency: number;
  /**
   * Slots prebuild creates may not take, so deletes and claims always find one (default: a fifth, at least 1 when
   * concurrency > 1). A create that finds no create slot goes back to the queue for `deferMs`.
   */
  reservedSlots?: number;
  deferMs?: number;
  /** How long `close()` waits for background tasks before aborting them (default 10 s). */
  closeGraceMs?: number;
  reporter?: ReporterOptions;
  /** Connection name prefix, for `CLIENT LIST`. */
  name?: string;
  /**
   * How long a build's job lock lives without renewal (default 30 s): after a crash, its request is redelivered
   * within about this time, to whichever provisioner runs then.
   */
  lockDurationMs?: number;
  /** False: consume only after `run()` (e.g. once a start-up reconcile is done). Default true. */
  autorun?: boolean;
  /**
   * How long a result may wait on Redis, or a canceled build keep running, before `health()` is not ok (default
   * 60 s): either way results stop flowing (a canceled build that does not end holds its workspace's delete).
   */
  livenessLimitMs?: number;
};

export type Provisioner = {
  worker: Worker;
  /** Starts consuming when created with `autorun: false`. */
  run: () => void;
  /** Publishes results that are not the answer to a request (e.g. `workspace-lost`). */
  report: (result: BuildResult) => Promise<void>;
  /** True while a build of the workspace is running here (its resources are expected to change). */
  isBusy: (workspaceId: string) => boolean;
  /** Liveness: the worker consumes and no result has been waiting on Redis for long. */
  health: () => { ok: boolean; details: Record<string, unknown> };
  close: () => Promise<void>;
};

class CancelError extends Error {
  override name = 'CancelError';
}

type Lane = { transition: BuildRequested['transition']; controller: AbortController; done: Promise<void> };

const now = () => new Date().toISOString();

/** Builds of one workspace run in order; a delete cancels the start it overtakes. */
class WorkspaceLanes {
  private readonly lanes = new Map<string, Lane>();
  private waiting = 0;
  /** Canceled builds still running, with when they were canceled (the map above holds only each lane's last build). */
  private readonly canceled = new Map<Lane, number>();

  get size(): number {
    return this.lanes.size;
  }

  has(workspaceId: string): boolean {
    return this.lanes.has(workspaceId);
  }

  /** Builds taken but waiting for an earlier build of their workspace to end. */
  get queued(): number {
    return this.waiting;
  }

  run(request: BuildRequested, build: (signal: AbortSignal) => Promise<string>): Promise<string> {
    const previous = this.lanes.get(request.workspaceId);
    if (previous && request.transition === 'delete' && previous.transition === 'start') {
      if (!this.canceled.has(previous)) {
        this.canceled.set(previous, Date.now());
        void previous.done.finally(() => this.canceled.delete(previous));
      }
      previous.controller.abort(new CancelError('a delete of the workspace overtook this build'));
    }
    const controller = new AbortController();
    let result!: Promise<string>;
    if (previous) this.waiting++;
    const done = (previous?.done ?? Promise.resolve()).then(() => {
      if (previous) this.waiting--;
      result = build(controller.signal);
      return result.then(() => undefined, () => undefined);
    });
    const lane: Lane = { transition: request.transition, controller, done };
    this.lanes.set(request.workspaceId, lane);
    void done.finally(() => {
      if (this.lanes.get(request.workspaceId) === lane) this.lanes.delete(request.workspaceId);
    });
    return done.then(() => result);
  }

  /** Since when the oldest build canceled here has not ended (its lane, and so the overtaking delete, waits), or null. */
  oldestUnendedCancel(): number | null {
    let oldest: number | null = null;
    for (const at of this.canceled.values()) if (oldest === null || at < oldest) oldest = at;
    return oldest;
  }
}

/** Work that outlives its build's slot; aborted through `signal` at shutdown. */
class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();
  constructor(private readonly signal: AbortSignal) {}

  add(task: (signal: AbortSignal) => Promise<void>, log: Logger): void {
    const running = task(this.signal).catch((err: unknown) => {
      if (!this.signal.aborted) log.warn({ err }, 'background task failed');
    });
    this.running.add(running);
    void running.finally(() => this.running.delete(running));
  }

  settled(): Promise<unknown> {
    return Promise.allSettled([...this.running]);
  }
}

/** The outcome of a backend that threw: canceled when its signal was aborted, else a failed build worth retrying. */
function outcomeOfError(err: unknown, signal: AbortSignal): BuildOutcome {
  return signal.aborted
    ? { kind: 'canceled', reason: String((signal.reason as Error | undefined)?.message ?? 'canceled') }
    : { kind: 'failed', error: `provisioner error: ${(err as Error).message ?? String(err)}`, retryable: true };
}

/** The one terminal result of a build's outcome (errors and reasons cut to the contract's 4 KiB). */
async function reportOutcome(reporter: Reporter, request: BuildRequested, outcome: BuildOutcome, log: Logger): Promise<void> {
  const at = now();
  switch (outcome.kind) {
    case 'succeeded':
      await reporter.report({
        type: 'build-succeeded',
        buildId: request.buildId,
        at,
        agents: outcome.agents ?? [],
        ...(outcome.replacements && Object.keys(outcome.replacements).length > 0 ? { replacements: outcome.replacements } : {}),
      });
      break;
    case 'failed':
      log.info({ error: outcome.error, retryable: outcome.retryable }, 'build failed');
      await reporter.report({ type: 'build-failed', buildId: request.buildId, at, error: outcome.error.slice(0, 4096), retryable: outcome.retryable });
      break;
    case 'canceled':
      log.info({ reason: outcome.reason }, 'build canceled');
      await reporter.report({ type: 'build-canceled', buildId: request.buildId, at, reason: outcome.reason.slice(0, 4096) });
      break;
  }
}

type BuildRun = { backend: ProvisionerBackend; reporter: Reporter; background: BackgroundTasks };

/** The backend's outcome of a build; a throw becomes failed (retryable) or canceled, as `outcomeOfError` says. */
async function backendOutcome(deps: BuildRun, request: BuildRequested, signal: AbortSignal, log: Logger, lastAttempt: boolean): Promise<BuildOutcome> {
  const { backend, reporter, background } = deps;
  // Canceled before it began (overtaken while it waited in its lane or reported build-started): a backend handed an
  // already aborted signal may wait for an 'abort' event that never comes, holding its lane and close() forever.
  if (signal.aborted) return outcomeOfError(undefined, signal);
  try {
    return await backend.build({
      request,
      signal,
      log,
      reportAgentReady: (agent) => reporter.report({ type: 'agent-ready', buildId: request.buildId, agent, at: now() }),
      background: (task) => background.add(task, log),
    });
  } catch (err) {
    // A stop or delete that throws is tried again (the job's attempts): a failed delete would strand its workspace.
    if (!signal.aborted && request.transition !== 'start' && !lastAttempt) throw err;
    return outcomeOfError(err, signal);
  }
}

/** Reports build-started, runs the backend, reports its outcome; returns the outcome's kind. */
async function runBuild(deps: BuildRun, request: BuildRequested, signal: AbortSignal, log: Logger, lastAttempt: boolean): Promise<string> {
  await deps.reporter.report({ type: 'build-started', buildId: request.buildId, at: now() });
  const outcome = await backendOutcome(deps, request, signal, log, lastAttempt);
  await reportOutcome(deps.reporter, request, outcome, log);
  return outcome.kind;
}

/** Worker slots prebuild creates may take: all but the reserved ones, so deletes and claims always find one. */
function createSlotCount(options: ProvisionerOptions): number {
  const reserved = options.reservedSlots ?? (options.concurrency > 1 ? Math.max(1, Math.floor(options.concurrency / 5)) : 0);
  return Math.max(1, options.concurrency - reserved);
}

/**
 * The build-request job handler: validates the payload (malformed ones fail once, unrecoverably), sends a prebuild
 * create that finds no create slot back to the queue for `deferMs`, and runs the build in its workspace's lane.
 */
function buildRequestProcessor(options: ProvisionerOptions, run: BuildRun, lanes: WorkspaceLanes): (job: Job, token?: string) => Promise<{ result: string }> {
  const { logger } = options;
  const createSlots = createSlotCount(options);
  let creating = 0;
  return async (job, token) => {
    const parsed = BuildRequested.safeParse(job.data);
    if (!parsed.success) {
      logger.error({ queue: QUEUES.buildRequests, jobId: job.id, problem: describeIssues(parsed.error) }, 'malformed build request rejected');
      throw new UnrecoverableError(`malformed build request: ${describeIssues(parsed.error)}`);
    }
    const request = parsed.data;
    const gated = request.transition === 'start' && request.reason !== 'claim';
    if (gated && creating >= createSlots) {
      // Keep the reserved slots for deletes and claims: this create waits in the queue, not in a slot.
      await job.moveToDelayed(Date.now() + (options.deferMs ?? 150), token);
      throw new DelayedError();
    }
    if (gated) creating++;
    const log = logger.child({ queue: QUEUES.buildRequests, jobId: job.id, buildId: request.buildId, workspaceId: request.workspaceId });
    try {
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      return { result: await lanes.run(request, (signal) => runBuild(run, request, signal, log, lastAttempt)) };
    } finally {
      if (gated) creating--;
    }
  };
}

/**
 * The provisioner side of the build protocol (docs/PROVISIONERS.md): consumes `build-requested` jobs (validated;
 * malformed ones are logged and failed once), reports `build-started`, then the backend's outcome as
 * `build-succeeded` / `build-failed` / `build-canceled`, and `agent-ready` when the backend says so. Builds of one
 * workspace run one after the other; a delete cancels a start of the same workspace still running here.
 */
export function startProvisioner(options: ProvisionerOptions): Provisioner {
  const { logger, backend } = options;
  const name = options.name ?? 'provisioner';
  const producer = createRedis(options.redis, { role: 'producer', name: `${name}-producer` });
  const workerConnection = createRedis(options.redis, { role: 'worker', name: `${name}-worker` });
  const queues = createQueueSet(producer, options.queuePrefix);
  const reporter = new Reporter(queues.buildResults, logger, options.reporter);
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal);
  const background = new BackgroundTasks(shutdown.signal);
  const lanes = new WorkspaceLanes();
  const processor = buildRequestProcessor(options, { backend, reporter, background }, lanes);

  const worker = new Worker(QUEUES.buildRequests, processor, {
    connection: workerConnection,
    prefix: queuePrefix(options.queuePrefix),
    concurrency: options.concurrency,
    autorun: options.autorun ?? true,
    ...WORKER_TIMING.buildRequests,
    ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs, stalledInterval: options.lockDurationMs } : {}),
  });
  worker.on('error', (err) => logger.error({ err }, 'provisioner worker error'));
  worker.on('failed', (job, err) => {
    if (!shutdown.signal.aborted && !(err instanceof DelayedError)) logger.warn({ jobId: job?.id, err: err.message }, 'build request failed');
  });

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await worker.close(); // active builds finish and report
      const graceOver = new AbortController();
      const grace = delay(options.closeGraceMs ?? 10_000, undefined, { signal: graceOver.signal }).catch(() => undefined);
      await Promise.race([background.settled(), grace]);
      graceOver.abort();
      shutdown.abort();
      reporter.abort();
      await background.settled();
      await queues.close();
      await Promise.all([producer.quit().catch(() => undefined), workerConnection.quit().catch(() => undefined)]);
    })());

  return {
    worker,
    run: () => {
      if (!worker.isRunning()) void worker.run().catch((err: unknown) => logger.error({ err }, 'provisioner worker stopped'));
    },
    report: (result) => reporter.report(result),
    isBusy: (workspaceId) => lanes.has(workspaceId),
    health: provisionerHealth(worker, reporter, lanes, shutdown.signal, options.livenessLimitMs ?? 60_000),
    close,
  };
}

/**
 * Liveness: the worker consumes, no result has waited on Redis for `limitMs` (Redis gone for good from here), and no
 * canceled build has kept running for `limitMs` (a backend that ignores its signal holds the overtaking delete).
 */
function provisionerHealth(worker: Worker, reporter: Reporter, lanes: WorkspaceLanes, shutdown: AbortSignal, limitMs: number): Provisioner['health'] {
  let stalledSince: number | null = null;
  return () => {
    const state = reporter.state;
    if (state.pending === 0) stalledSince = null;
    else stalledSince ??= Date.now();
    const stalledMs = stalledSince === null ? 0 : Date.now() - stalledSince;
    const canceledAt = lanes.oldestUnendedCancel();
    const unendedCancelMs = canceledAt === null ? 0 : Date.now() - canceledAt;
    const ok = worker.isRunning() && !shutdown.aborted && stalledMs < limitMs && unendedCancelMs < limitMs;
    return {
      ok,
      details: {
        running: worker.isRunning(),
        activeWorkspaces: lanes.size,
        queuedBuilds: lanes.queued,
        pendingReports: state.pending,
        lastReportError: state.lastError,
        unendedCancelMs,
      },
    };
  };
}
