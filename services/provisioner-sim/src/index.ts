import { setTimeout as delay } from 'node:timers/promises';
import type { Worker } from 'bullmq';
import { startProvisioner, type ProvisionerBackend } from '@warmpool/provisioner-kit';
import type { Config, Logger } from '@warmpool/runtime';
import { createRandom, type SimOptions } from './options.js';
import { decideOutcome, OutcomeMemory } from './outcome.js';

export { createRandom, loadSimOptions, type SimOptions } from './options.js';
export { decideOutcome, OutcomeMemory, rateParameter, SIMULATED_ERROR, SIMULATED_REPLACEMENTS, type SimOutcome } from './outcome.js';

export type ProvisionerSim = { worker: Worker; close: () => Promise<void> };

/**
 * A stand-in provisioner on the provisioner kit: each build waits a while, then succeeds (start builds get one
 * agent that becomes ready later) or fails. Claim builds can report resource replacements. The kit does the
 * protocol (validation, idempotent results, ordering, shutdown); this file only decides and waits.
 */
export function startProvisionerSim(options: { config: Config; sim: SimOptions; logger: Logger }): ProvisionerSim {
  const { config, sim, logger } = options;
  const random = createRandom(sim.seed);
  const memory = new OutcomeMemory();

  const backend: ProvisionerBackend = {
    build: async ({ request, signal, log, background, reportAgentReady }) => {
      // Decided before the wait, once per build: a redelivered request repeats the same results.
      const outcome = memory.outcomeFor(request.buildId, () => decideOutcome(request, sim, random));
      const buildMs = sim.buildMs + Math.round(random() * sim.jitterMs);
      if (buildMs > 0) await delay(buildMs, undefined, { signal });
      if (outcome.kind === 'failed') {
        log.info('simulated build failure');
        return { kind: 'failed', error: outcome.error, retryable: true };
      }
      if (outcome.agents.length > 0) {
        // Readiness comes later, without holding the worker slot.
        background(async (shutdown) => {
          if (sim.agentReadyMs > 0) await delay(sim.agentReadyMs, undefined, { signal: shutdown });
          for (const agent of outcome.agents) await reportAgentReady(agent.name);
        });
      }
      return { kind: 'succeeded', agents: outcome.agents, ...(outcome.replacements ? { replacements: outcome.replacements } : {}) };
    },
  };

  const provisioner = startProvisioner({
    redis: config.redis,
    queuePrefix: config.queuePrefix,
    logger,
    backend,
    concurrency: sim.concurrency,
    name: 'sim',
  });
  return { worker: provisioner.worker, close: provisioner.close };
}
