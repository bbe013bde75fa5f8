import { desiredInstancesAt } from './schedule.js';
import type { PresetSnapshot } from './types.js';

/** One entry of the backoff population (BEHAVIOUR.md §4.3): the latest `start` build of a prebuild of the preset. */
export type PopulationBuild = {
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'canceled';
  createdAt: Date;
  completedAt: Date | null;
};

/** N of BEHAVIOUR.md §4.3: max(desired now, base instances, 1). */
export function backoffWindow(preset: PresetSnapshot['preset'], now: Date): number {
  return Math.max(desiredInstancesAt(preset, now), preset.instances, 1);
}

const failedAt = (b: PopulationBuild): number => (b.completedAt ?? b.createdAt).getTime();

/**
 * Backoff from build history (BEHAVIOUR.md §4.3). `population` is newest first. The preset is in backoff iff one of the
 * newest `window` builds failed at or after now - lookback; failures counts every failed build in the lookback.
 */
export function computeBackoff(
  population: readonly PopulationBuild[],
  options: { now: Date; lookbackMs: number; window: number },
): { failures: number; newestFailureAt: Date } | null {
  const since = options.now.getTime() - options.lookbackMs;
  const recentFailure = (b: PopulationBuild) => b.status === 'failed' && failedAt(b) >= since;
  if (!population.slice(0, Math.max(options.window, 0)).some(recentFailure)) return null;
  const failed = population.filter(recentFailure);
  return { failures: failed.length, newestFailureAt: new Date(Math.max(...failed.map(failedAt))) };
}

/** The failure limit (BEHAVIOUR.md §4.3): limit > 0 and the newest `limit` builds all failed. */
export function failureLimitReached(population: readonly PopulationBuild[], limit: number): boolean {
  if (limit <= 0 || population.length < limit) return false;
  return population.slice(0, limit).every((b) => b.status === 'failed');
}
