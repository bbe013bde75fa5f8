import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { DelayedError, UnrecoverableError, type Job, type Worker } from 'bullmq';
import { hostname } from 'node:os';
import {
  BuildRequested,
  describeIssues,
  JOB_NAMES,
  PROVISIONER_HEARTBEAT_MS,
  QUEUES,
  StandbyRequested,
  WORKER_TIMING,
  wireService,
  withJobSpan,
  type BuildResult,
  type ProvisionerCapability,
} from '@warmpool/bus';
import { withSpan, type Logger, type RedisTarget } from '@warmpool/runtime';
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

/** What a backend concludes about a freeze or thaw; the kit reports it as `standby-done` or `standby-failed`. */
export type StandbyOutcome =
  | {
      kind: 'done';
      /** When the workspace froze, or became usable again (default: when the backend returned). */
      at?: Date;
      /** Thaw: how long until the workspace was usable again. */
      durationMs?: number;
    }
  | { kind: 'failed'; error: string };

export type StandbyContext = { request: StandbyRequested; log: Logger };

export type ProvisionerBackend = {
  build: (ctx: BuildContext) => Promise<BuildOutcome>;
  /**
   * The `freeze` capability: a backend that implements both declares it, and only then does Warmpool send freeze
   * and thaw requests. Both must be idempotent (freezing a frozen workspace is done) and leave the workspace
   * usable after a thaw (its agents ready again).
   */
  standby?: {
    freeze: (ctx: StandbyContext) => Promise<StandbyOutcome>;
    thaw: (ctx: StandbyContext) => Promise<StandbyOutcome>;
  };
};

/** The capabilities a backend declares: exactly what it implements, so nothing undeclared is ever asked for. */
export function capabilitiesOf(backend: ProvisionerBackend): ProvisionerCapability[] {
  return backend.standby ? ['freeze'] : [];
}

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
  /**
   * How this provisioner is listed with its capabilities (`provisioner-seen`, GET /api/v1/provisioners). Default
   * `<name>-<host>-<pid>`; give a stable one (e.g. the Docker instance) so a restart replaces its row.
   */
  identity?: string;
};

export type Provisioner = {
  worker: Worker;
  /** Starts consuming when created with `autorun: false`. */
  run: () => void;
  /** Publishes results that are not the answer to a request (e.g. `workspace-lost`). */
  report: (result: BuildResult) => Promise<void>;
  /** True while a build of the workspace is running here (its resources are expected to change). */
  isBusy: (workspaceId: string) => boolean;
  /** What this provisioner declares (and reports every PROVISIONER_HEARTBEAT_MS). */
  capabilities: ProvisionerCapability[];
  /** Liveness: the worker consumes and no result has been waiting on Redis for long. */
  health: () => { ok: boolean; details: Record<string, unknown> };
  close: () => Promise<void>;
};

class CancelError extends Error {
  override name = 'CancelError';
}

/** What runs in a workspace's lane: a build's transition, or a freeze/thaw (`standby`). */
type LaneKind = BuildRequested['transition'] | 'standby';
type Lane = { kind: LaneKind; controller: AbortController; done: Promise<void> };

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

  run(workspaceId: string, kind: LaneKind, build: (signal: AbortSignal) => Promise<string>): Promise<string> {
    const previous = this.lanes.get(workspaceId);
    if (previous && kind === 'delete' && previous.kind === 'start') {
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
    const lane: Lane = { kind, controller, done };
    this.lanes.set(workspaceId, lane);
    void done.finally(() => {
      if (this.lanes.get(workspaceId) === lane) this.lanes.delete(workspaceId);
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
    // One span per engine call: how long the backend (Docker, a cloud API) took, and what it answered.
    return await withSpan('provisioner engine build', { attributes: { 'warmpool.build.transition': request.transition } }, async (span) => {
      const outcome = await backend.build({
        request,
        signal,
        log,
        reportAgentReady: (agent) => reporter.report({ type: 'agent-ready', buildId: request.buildId, agent, at: now() }),
        background: (task) => background.add(task, log),
      });
      span.setAttribute('warmpool.build.outcome', outcome.kind);
      return outcome;
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
 * A freeze or thaw, in the workspace's lane (after any build of it that runs here): the backend's outcome reported
 * as `standby-done` or `standby-failed`. A backend without the capability answers failed (Warmpool asked for
 * something undeclared: a provisioner of another kind consumes the same queue).
 */
async function runStandby(deps: BuildRun, request: StandbyRequested, log: Logger): Promise<string> {
  const { backend, reporter } = deps;
  const base = { workspaceId: request.workspaceId, action: request.action, key: request.idempotencyKey };
  let outcome: StandbyOutcome;
  if (!backend.standby) outcome = { kind: 'failed', error: 'this provisioner does not declare the freeze capability' };
  else {
    try {
      outcome = await backend.standby[request.action]({ request, log });
    } catch (err) {
      outcome = { kind: 'failed', error: `provisioner error: ${(err as Error).message ?? String(err)}` };
    }
  }
  if (outcome.kind === 'failed') {
    log.warn({ action: request.action, error: outcome.error }, 'standby request failed');
    await reporter.report({ type: 'standby-failed', ...base, at: now(), error: outcome.error.slice(0, 4096) });
  } else {
    const durationMs = outcome.durationMs === undefined ? {} : { durationMs: Math.max(0, Math.round(outcome.durationMs)) };
    await reporter.report({ type: 'standby-done', ...base, at: (outcome.at ?? new Date()).toISOString(), ...durationMs });
  }
  return outcome.kind;
}

/** Rejects a payload that fails its schema: logged with the offending fields, failed once (never retried). */
function malformed(logger: Logger, job: Job, what: string, error: Parameters<typeof describeIssues>[0]): never {
  logger.error({ queue: QUEUES.buildRequests, jobId: job.id, name: job.name, problem: describeIssues(error) }, `malformed ${what} rejected`);
  throw new UnrecoverableError(`malformed ${what}: ${describeIssues(error)}`);
}

/**
 * The build-request job handler: validates the payload (malformed ones fail once, unrecoverably), sends a prebuild
 * create that finds no create slot back to the queue for `deferMs`, and runs the build in its workspace's lane.
 * `standby-requested` jobs (freeze, thaw) run in the lane too, on any slot: they take milliseconds.
 */
function buildRequestProcessor(options: ProvisionerOptions, run: BuildRun, lanes: WorkspaceLanes): (job: Job, token?: string) => Promise<{ result: string }> {
  const { logger } = options;
  const createSlots = createSlotCount(options);
  let creating = 0;
  return async (job, token) => {
    if (job.name === JOB_NAMES.standbyRequested) {
      const standby = StandbyRequested.safeParse(job.data);
      if (!standby.success) malformed(logger, job, 'standby request', standby.error);
      const request = standby.data;
      const log = logger.child({ queue: QUEUES.buildRequests, jobId: job.id, workspaceId: request.workspaceId, action: request.action });
      return { result: await lanes.run(request.workspaceId, 'standby', () => runStandby(run, request, log)) };
    }
    const parsed = BuildRequested.safeParse(job.data);
    if (!parsed.success) malformed(logger, job, 'build request', parsed.error);
    const request = parsed.data;
    const attributes = { 'warmpool.build.id': request.buildId, 'warmpool.workspace.id': request.workspaceId, 'warmpool.build.transition': request.transition, 'warmpool.build.reason': request.reason };
    const gated = request.transition === 'start' && request.reason !== 'claim';
    if (gated && creating >= createSlots) {
      // Keep the reserved slots for deletes and claims: this create waits in the queue, not in a slot.
      await job.moveToDelayed(Date.now() + (options.deferMs ?? 150), token);
      throw new DelayedError();
    }
    if (gated) creating++;
    return withJobSpan(job, 'build request', attributes, async (span) => {
      const log = logger.child({ queue: QUEUES.buildRequests, jobId: job.id, buildId: request.buildId, workspaceId: request.workspaceId });
      try {
        const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        const result = await lanes.run(request.workspaceId, request.transition, (signal) => runBuild(run, request, signal, log, lastAttempt));
        span.setAttribute('warmpool.build.outcome', result);
        return { result };
      } finally {
        if (gated) creating--;
      }
    });
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
  const wiring = wireService({ name, redis: options.redis, queuePrefix: options.queuePrefix, logger });
  const { queues } = wiring;
  const reporter = new Reporter(queues.buildResults, logger, options.reporter);
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal);
  const background = new BackgroundTasks(shutdown.signal);
  const lanes = new WorkspaceLanes();
  const processor = buildRequestProcessor(options, { backend, reporter, background }, lanes);

  const worker = wiring.worker(QUEUES.buildRequests, processor, {
    concurrency: options.concurrency,
    autorun: options.autorun ?? true,
    ...WORKER_TIMING.buildRequests,
    ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs, stalledInterval: options.lockDurationMs } : {}),
  });
  const capabilities = capabilitiesOf(backend);
  const stopHeartbeat = heartbeat(reporter, options.identity ?? defaultIdentity(name), capabilities, logger);
  worker.on('failed', (job, err) => {
    if (!shutdown.signal.aborted && !(err instanceof DelayedError)) logger.warn({ jobId: job?.id, err: err.message }, 'build request failed');
  });

  wiring.beforeWorkers(stopHeartbeat);
  // Once active builds have finished and reported: background work (agent readiness) gets a grace period, then stops.
  wiring.afterWorkers(async () => {
    const graceOver = new AbortController();
    const grace = delay(options.closeGraceMs ?? 10_000, undefined, { signal: graceOver.signal }).catch(() => undefined);
    await Promise.race([background.settled(), grace]);
    graceOver.abort();
    shutdown.abort();
    reporter.abort();
    await background.settled();
  });
  const close = wiring.close;

  return {
    worker,
    run: () => {
      if (!worker.isRunning()) void worker.run().catch((err: unknown) => logger.error({ err }, 'provisioner worker stopped'));
    },
    report: (result) => reporter.report(result),
    isBusy: (workspaceId) => lanes.has(workspaceId),
    capabilities,
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

/** `<name>-<host>-<pid>`, kept to the characters a job id part allows. */
function defaultIdentity(name: string): string {
  return `${name}-${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.@-]/g, '_').slice(0, 200);
}

/**
 * Declares the provisioner and its capabilities now and every PROVISIONER_HEARTBEAT_MS (`provisioner-seen`), so
 * Warmpool knows which capabilities every running provisioner has; returns what stops it.
 */
function heartbeat(reporter: Reporter, identity: string, capabilities: ProvisionerCapability[], logger: Logger): () => void {
  const beat = () => {
    reporter
      .report({ type: 'provisioner-seen', provisioner: identity, capabilities, at: now() })
      .catch((err: unknown) => logger.debug({ err }, 'provisioner-seen not reported (stopping)'));
  };
  beat();
  const timer = setInterval(beat, PROVISIONER_HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}
