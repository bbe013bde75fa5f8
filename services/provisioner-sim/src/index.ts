import { setTimeout as delay } from 'node:timers/promises';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { BuildRequested, BuildResult, createQueueSet, createRedis, describeIssues, QUEUES, queuePrefix } from '@warmpool/bus';
import type { Config, Logger } from '@warmpool/runtime';
import { createRandom, type SimOptions } from './options.js';

export { loadSimOptions, type SimOptions } from './options.js';

export type ProvisionerSim = { worker: Worker; close: () => Promise<void> };

/** Demo knobs a manifest can set per preset: `sim_failure_rate` ("0".."1") and `sim_replace` ("true"). */
function rateFrom(parameters: Record<string, string>, name: string): number | undefined {
  const raw = parameters[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}

/**
 * A stand-in provisioner: consumes build-requested events and reports build-started, then after a while
 * build-succeeded (with one agent that becomes ready later) or build-failed. Claim builds can report
 * resource replacements. Results are published with fixed job ids, so a redelivered request repeats the
 * same results, which the consumer ignores.
 */
export function startProvisionerSim(options: { config: Config; sim: SimOptions; logger: Logger }): ProvisionerSim {
  const { config, sim, logger } = options;
  const random = createRandom(sim.seed);
  const producer = createRedis(config.redisUrl, { role: 'producer', name: 'sim-producer' });
  const workerConnection = createRedis(config.redisUrl, { role: 'worker', name: 'sim-worker' });
  const queues = createQueueSet(producer, config.queuePrefix);
  const abort = new AbortController();
  const timers = new Set<Promise<unknown>>();

  const report = async (result: BuildResult, suffix = '') => {
    const payload = BuildResult.parse(result);
    await queues.buildResults.add(payload.type, payload, { jobId: `${payload.type}-${payload.buildId}${suffix}` });
  };
  const wait = async (ms: number) => {
    if (ms > 0) await delay(ms, undefined, { signal: abort.signal });
  };

  const processor = async (job: Job) => {
    const parsed = BuildRequested.safeParse(job.data);
    if (!parsed.success) {
      logger.error({ queue: QUEUES.buildRequests, jobId: job.id, problem: describeIssues(parsed.error) }, 'malformed build request rejected');
      throw new UnrecoverableError(`malformed build request: ${describeIssues(parsed.error)}`);
    }
    const request = parsed.data;
    const log = logger.child({ queue: QUEUES.buildRequests, jobId: job.id, buildId: request.buildId, presetId: request.presetId });
    const now = () => new Date().toISOString();
    await report({ type: 'build-started', buildId: request.buildId, at: now() });
    await wait(sim.buildMs + Math.round(random() * sim.jitterMs));
    const failureRate = rateFrom(request.parameters, 'sim_failure_rate') ?? sim.failureRate;
    if (request.transition === 'start' && random() < failureRate) {
      log.info('simulated build failure');
      await report({ type: 'build-failed', buildId: request.buildId, at: now(), error: 'simulated failure: terraform apply exited with status 1', retryable: true });
      return { result: 'failed' };
    }
    const replace = request.reason === 'claim' && (request.parameters.sim_replace === 'true' || random() < sim.replacementRate);
    await report({
      type: 'build-succeeded',
      buildId: request.buildId,
      at: now(),
      agents: request.transition === 'start' ? [{ name: 'main', ready: false }] : [],
      ...(replace ? { replacements: { 'aws_instance.dev': ['tags.Owner', 'user_data'], 'docker_container.workspace': ['env'] } } : {}),
    });
    if (request.transition === 'start') {
      // Agent readiness is reported later, without holding the worker slot.
      const ready = (async () => {
        await wait(sim.agentReadyMs);
        await report({ type: 'agent-ready', buildId: request.buildId, agent: 'main', at: now() }, '-main');
      })().catch((err: unknown) => {
        if (!abort.signal.aborted) log.warn({ err }, 'agent-ready report failed');
      });
      timers.add(ready);
      void ready.finally(() => timers.delete(ready));
    }
    return { result: 'succeeded' };
  };

  const worker = new Worker(QUEUES.buildRequests, processor, {
    connection: workerConnection,
    prefix: queuePrefix(config.queuePrefix),
    concurrency: sim.concurrency,
  });
  worker.on('error', (err) => logger.error({ err }, 'simulator worker error'));
  worker.on('failed', (job, err) => {
    if (!abort.signal.aborted) logger.warn({ jobId: job?.id, err: err.message }, 'build request failed');
  });

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await worker.close(); // active builds finish
      await Promise.allSettled([...timers]);
      abort.abort();
      await queues.close();
      await Promise.all([producer.quit().catch(() => undefined), workerConnection.quit().catch(() => undefined)]);
    })());
  return { worker, close };
}
