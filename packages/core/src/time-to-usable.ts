/**
 * Time to usable: predictions from the history of prebuild create durations, and the decision of a claim with a
 * wait budget (BEHAVIOUR.md §5.1). Pure: every function takes its history and elapsed times; nothing reads a clock.
 *
 * A duration sample is one prebuild create, from its request (build row written) to usable (build succeeded and
 * every agent ready), split into the wait in the provisioner's queue and the rest (service).
 */

/** Samples kept per preset (PostgreSQL prunes to it) and read per level: the predictor's memory is bounded by it. */
export const HISTORY_LIMIT = 100;
/** A narrower level (preset, then version) is used only with at least this many samples; else the wider one. */
export const MIN_SAMPLES = 3;
/** Wait budgets are accepted up to this (milliseconds). */
export const MAX_WAIT_BUDGET_MS = 120_000;
/** A reservation is made only when the build is at least this likely to be usable within the budget. */
export const RESERVE_CONFIDENCE = 0.5;

export const CLAIM_MODES = ['prefer', 'require', 'bypass'] as const;
export type ClaimMode = (typeof CLAIM_MODES)[number];
/** How a workspace was served; extends with new tiers (e.g. a thawed one) without changing the others. */
export type ClaimSource = 'pool' | 'reserved' | 'cold';

export type DurationSample = { totalMs: number; queuedMs: number };
export type HistoryLevel = 'preset' | 'version' | 'template';

/** The history a prediction used: the narrowest level with enough samples, or `none` (the answer says so). */
export type ChosenHistory = { level: HistoryLevel | 'none'; samples: readonly DurationSample[] };

/** Newest first, at most HISTORY_LIMIT: what any caller may hold of one level. */
export const boundHistory = (samples: readonly DurationSample[]): DurationSample[] => samples.slice(0, HISTORY_LIMIT);

/**
 * The preset's own history when it has MIN_SAMPLES, else its version's (other presets of the same version), else
 * the template's (every version); a level with fewer samples is still better than none, so the widest non-empty
 * one is used last.
 */
export function chooseHistory(levels: Record<HistoryLevel, readonly DurationSample[]>): ChosenHistory {
  const order: HistoryLevel[] = ['preset', 'version', 'template'];
  for (const level of order) {
    if (levels[level].length >= MIN_SAMPLES) return { level, samples: boundHistory(levels[level]) };
  }
  for (const level of [...order].reverse()) {
    if (levels[level].length > 0) return { level, samples: boundHistory(levels[level]) };
  }
  return { level: 'none', samples: [] };
}

/** The q-quantile (nearest rank) of values sorted ascending; undefined for none. */
function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Remaining times of a build that has run `elapsedMs`: the durations longer than the elapsed time, minus it, sorted
 * (the empirical distribution of D − e given D > e). Empty when the build already outlived every sample (overdue).
 */
export function remainingTimes(samples: readonly DurationSample[], elapsedMs: number): number[] {
  return samples
    .map((s) => s.totalMs - elapsedMs)
    .filter((r) => r > 0)
    .sort((a, b) => a - b);
}

/** P(usable within budget | running for elapsed); null when overdue or without samples (nothing to go by). */
export function probabilityUsableWithin(samples: readonly DurationSample[], elapsedMs: number, budgetMs: number): number | null {
  const remaining = remainingTimes(samples, elapsedMs);
  if (remaining.length === 0) return null;
  return remaining.filter((r) => r <= budgetMs).length / remaining.length;
}

/** The median remaining time of an in-flight build, or null (no history, or overdue). */
export function predictRemainingMs(samples: readonly DurationSample[], elapsedMs: number): number | null {
  return quantile(remainingTimes(samples, elapsedMs), 0.5) ?? null;
}

/**
 * The median time of a cold build: its service time (a sample's total minus its queue wait) plus its own wait
 * in the provisioner's queue. User builds go before prebuild builds, so only human builds already waiting are
 * ahead of it: each batch of `slots` of them costs one median service time. Null without history.
 */
export function predictColdMs(samples: readonly DurationSample[], humanBuildsAhead: number, slots: number): number | null {
  const service = quantile(samples.map((s) => Math.max(0, s.totalMs - s.queuedMs)).sort((a, b) => a - b), 0.5);
  if (service === undefined) return null;
  const batches = Math.ceil(Math.max(0, humanBuildsAhead) / Math.max(1, slots));
  return service * (1 + batches);
}

export type InflightPrebuild = { workspaceId: string; elapsedMs: number };

export type ClaimDecisionInput = {
  mode: ClaimMode;
  budgetMs: number;
  history: ChosenHistory;
  /** In-flight prebuilds of the preset (not yet usable, not reserved). */
  inflight: readonly InflightPrebuild[];
  humanBuildsAhead: number;
  slots: number;
};

export type ClaimDecision =
  /** Try these in order (shortest predicted remaining first); the first one still free is reserved. */
  | { kind: 'reserve'; candidates: { workspaceId: string; predictedMs: number }[]; coldMs: number | null; level: ChosenHistory['level'] }
  /** Build cold now (prefer and bypass). */
  | { kind: 'cold'; predictedMs: number | null; level: ChosenHistory['level']; reason: 'bypass' | 'no-history' | 'none-in-budget' }
  /** `require` with nothing to give: retry after this long (the soonest predicted usable prebuild). */
  | { kind: 'unavailable'; retryAfterMs: number | null; level: ChosenHistory['level'] };

/**
 * What a claim that found no eligible prebuild does (BEHAVIOUR.md §5.1). An in-flight prebuild qualifies when it is
 * at least RESERVE_CONFIDENCE likely to be usable within the budget and its median remaining time is shorter than a
 * cold build's (when that is known). `bypass` never gets here with a pool; it always builds cold.
 */
export function decideClaim(input: ClaimDecisionInput): ClaimDecision {
  const { history, mode } = input;
  const coldMs = predictColdMs(history.samples, input.humanBuildsAhead, input.slots);
  if (mode === 'bypass') return { kind: 'cold', predictedMs: coldMs, level: history.level, reason: 'bypass' };
  const predicted = input.inflight
    .map((p) => ({ workspaceId: p.workspaceId, predictedMs: predictRemainingMs(history.samples, p.elapsedMs), p }))
    .filter((c): c is typeof c & { predictedMs: number } => c.predictedMs !== null)
    .sort((a, b) => a.predictedMs - b.predictedMs || (a.workspaceId < b.workspaceId ? -1 : 1));
  const candidates = predicted.filter(
    (c) =>
      (probabilityUsableWithin(history.samples, c.p.elapsedMs, input.budgetMs) ?? 0) >= RESERVE_CONFIDENCE &&
      (coldMs === null || c.predictedMs < coldMs),
  );
  if (candidates.length > 0) {
    return { kind: 'reserve', candidates: candidates.map(({ workspaceId, predictedMs }) => ({ workspaceId, predictedMs })), coldMs, level: history.level };
  }
  if (mode === 'require') {
    // The soonest in-flight prebuild, else a prebuild the refill is about to request (a whole build).
    const soonest = predicted[0]?.predictedMs ?? quantile(history.samples.map((s) => s.totalMs).sort((a, b) => a - b), 0.5) ?? null;
    return { kind: 'unavailable', retryAfterMs: soonest, level: history.level };
  }
  return { kind: 'cold', predictedMs: coldMs, level: history.level, reason: history.level === 'none' ? 'no-history' : 'none-in-budget' };
}

/** Retry-After in whole seconds (at least 1) for a predicted wait; a default when nothing could be predicted. */
export const retryAfterSeconds = (ms: number | null, fallbackSeconds = 30): number => (ms === null ? fallbackSeconds : Math.max(1, Math.ceil(ms / 1000)));
