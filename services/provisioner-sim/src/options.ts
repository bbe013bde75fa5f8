import { z } from 'zod';
import { parseEnvGroup } from '@warmpool/runtime';

const rate = z.coerce.number().min(0).max(1);
const ms = z.coerce.number().int().min(0).max(3_600_000);

const SimEnv = z.object({
  SIM_BUILD_MS: ms.default(1_500),
  SIM_BUILD_JITTER_MS: ms.default(500),
  SIM_FAILURE_RATE: rate.default(0),
  SIM_AGENT_READY_MS: ms.default(500),
  SIM_REPLACEMENT_RATE: rate.default(0),
  SIM_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(50),
  SIM_SEED: z.coerce.number().int().optional(),
});

/** How the simulated provisioner behaves; every field has an environment variable (SIM_*). */
export type SimOptions = {
  buildMs: number;
  jitterMs: number;
  failureRate: number;
  agentReadyMs: number;
  replacementRate: number;
  concurrency: number;
  seed: number | undefined;
};

export function loadSimOptions(env: Record<string, string | undefined> = process.env): SimOptions {
  const e = parseEnvGroup(SimEnv, env, 'SIM_', 'simulator');
  return {
    buildMs: e.SIM_BUILD_MS,
    jitterMs: e.SIM_BUILD_JITTER_MS,
    failureRate: e.SIM_FAILURE_RATE,
    agentReadyMs: e.SIM_AGENT_READY_MS,
    replacementRate: e.SIM_REPLACEMENT_RATE,
    concurrency: e.SIM_CONCURRENCY,
    seed: e.SIM_SEED,
  };
}

/** Deterministic when seeded (mulberry32), so tests and demos can reproduce a run. */
export function createRandom(seed: number | undefined): () => number {
  if (seed === undefined) return Math.random;
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
