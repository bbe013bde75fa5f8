import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { BuildRequested, BuildResult, createQueueSet, createRedis, describeIssues, QUEUES, queuePrefix } from '@warmpool/bus';
import type { Config, Logger } from '@warmpool/runtime';
import { createRandom, type SimOptions } from './options.js';
import { decideOutcome, OutcomeMemory } from './outcome.js';

export { loadSimOptions, type SimOptions } from './options.js';
export { decideOutcome, OutcomeMemory, rateParameter, SIMULATED_ERROR, SIMULATED_REPLACEMENTS, type SimOutcome } from './outcome.js';

export type ProvisionerSim = { worker: Worker; close: () => Promise<void> };

/**
 * A stand-in provisioner: consumes build-requested events and reports build-started, then after a while
 * build-succeeded (with one agent that becomes ready later) or build-failed. Claim builds can report
 * resource replacements. Results are published with fixed job ids (`<type>-<buildId>[-<agent>]`; BullMQ
 * reserves ":" in custom ids), so a redelivered request repeats the same results, which the consumer ignores.
 */
export function startProvisionerSim(options: { config: Config; sim: SimOptions; logger: Logger }): ProvisionerSim {
  const { config, sim, logger } = options;
  const random = createRandom(sim.seed);
  const memory = new OutcomeMemory();
  const producer = createRedis(config.redis, { role: 'producer', name: 'sim-producer' });
  const workerConnection = createRedis(config.redis, { role: 'worker', name: 'sim-worker' });
  const queues = createQueueSet(producer, config.queuePrefix);
  const abort = new AbortController();
  // Every simulated build and readiness timer listens on this signal: far more than the default 10.
  setMaxListeners(0, abort.signal);
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
    // Decided before the wait, once per build: a redelivered request repeats the same results.
    const outcome = memory.outcomeFor(request.buildId, () => decideOutcome(request, sim, random));
    await report({ type: 'build-started', buildId: request.buildId, at: now() });
    await wait(sim.buildMs + Math.round(random() * sim.jitterMs));
    if (outcome.kind === 'failed') {
      log.info('simulated build failure');
      await report({ type: 'build-failed', buildId: request.buildId, at: now(), error: outcome.error, retryable: true });
      return { result: 'failed' };
    }
    await report({
      type: 'build-succeeded',
      buildId: request.buildId,
      at: now(),
      agents: outcome.agents,
      ...(outcome.replacements ? { replacements: outcome.replacements } : {}),
    });
    if (outcome.agents.length > 0) {
      // Agent readiness is reported later, without holding the worker slot.
      const ready = (async () => {
        await wait(sim.agentReadyMs);
        for (const agent of outcome.agents) {
          await report({ type: 'agent-ready', buildId: request.buildId, agent: agent.name, at: now() }, `-${agent.name}`);
        }
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
