import type { BuildRequested } from '@warmpool/bus';
import type { SimOptions } from './options.js';

/** What the simulator will report for one build, decided once per build id. */
export type SimOutcome =
  | { kind: 'failed'; error: string }
  | { kind: 'succeeded'; agents: { name: string; ready: boolean }[]; replacements: Record<string, string[]> | undefined };

export const SIMULATED_ERROR = 'simulated failure: terraform apply exited with status 1';
export const SIMULATED_REPLACEMENTS: Record<string, string[]> = {
  'aws_instance.dev': ['tags.Owner', 'user_data'],
  'docker_container.workspace': ['env'],
};

/** A demo knob a manifest can set per preset, e.g. `sim_failure_rate: "0.5"`; ignored unless a number in 0..1. */
export function rateParameter(parameters: Record<string, string>, name: string): number | undefined {
  const raw = parameters[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}

/**
 * Decides a build's fate. Only `start` builds fail (a failing delete would leave the demo's pools stuck);
 * the preset's `sim_failure_rate` parameter overrides the global rate so one preset can show backoff and the
 * failure limit while the others converge. Claim builds report replacements at the replacement rate or when
 * the preset sets `sim_replace=true`.
 */
export function decideOutcome(request: BuildRequested, sim: Pick<SimOptions, 'failureRate' | 'replacementRate'>, random: () => number): SimOutcome {
  const failureRate = rateParameter(request.parameters, 'sim_failure_rate') ?? sim.failureRate;
  if (request.transition === 'start' && random() < failureRate) return { kind: 'failed', error: SIMULATED_ERROR };
  const replace = request.reason === 'claim' && (request.parameters.sim_replace === 'true' || random() < sim.replacementRate);
  return {
    kind: 'succeeded',
    agents: request.transition === 'start' ? [{ name: 'main', ready: false }] : [],
    replacements: replace ? SIMULATED_REPLACEMENTS : undefined,
  };
}

/**
 * Remembers the outcome of recent builds, so a redelivered request (lost lock, retry) repeats the same
 * result instead of contradicting it. Bounded: the oldest entries are forgotten first.
 */
export class OutcomeMemory {
  private readonly outcomes = new Map<string, SimOutcome>();

  constructor(private readonly capacity = 100_000) {}

  /** The remembered outcome of the build, or the one `decide` returns, which is remembered from now on. */
  outcomeFor(buildId: string, decide: () => SimOutcome): SimOutcome {
    const known = this.outcomes.get(buildId);
    if (known) return known;
    const outcome = decide();
    this.outcomes.set(buildId, outcome);
    if (this.outcomes.size > this.capacity) {
      const oldest = this.outcomes.keys().next();
      if (!oldest.done) this.outcomes.delete(oldest.value);
    }
    return outcome;
  }

  get size(): number {
    return this.outcomes.size;
  }
}
