import type { PresetStatusName } from './record.js';

/**
 * Staged rollouts (BEHAVIOUR.md §4.7): a version is warmed while the old one stays active, and made active when
 * every staged preset has reached its threshold. The decisions here are pure; the caller reads and writes.
 */

/** Surge as requested: a number of staged builds in flight at once ("3") or a share of the desired total ("25%"). */
export type SurgeSpec = { kind: 'builds'; builds: number } | { kind: 'percent'; percent: number };

export const DEFAULT_SURGE = '25%';
export const SURGE_MAX_BUILDS = 1000;
/** Kubernetes' progressDeadlineSeconds is 600; a prebuild of a real image often takes longer, so 15 minutes. */
export const DEFAULT_ROLLOUT_DEADLINE_SECONDS = 900;
export const ROLLOUT_DEADLINE_RANGE = { min: 60, max: 86_400 } as const;

/** Parses "N" (1…1000 builds) or "P%" (1…100 % of desired); an error message for anything else. */
export function parseSurge(text: string): { ok: true; value: SurgeSpec } | { ok: false; error: string } {
  const percent = /^(\d{1,3})%$/.exec(text);
  if (percent) {
    const p = Number(percent[1]);
    return p >= 1 && p <= 100 ? { ok: true, value: { kind: 'percent', percent: p } } : { ok: false, error: 'a percentage must be from 1% to 100%' };
  }
  if (/^\d{1,4}$/.test(text)) {
    const n = Number(text);
    return n >= 1 && n <= SURGE_MAX_BUILDS ? { ok: true, value: { kind: 'builds', builds: n } } : { ok: false, error: `a build count must be from 1 to ${SURGE_MAX_BUILDS}` };
  }
  return { ok: false, error: `must be a build count (1 to ${SURGE_MAX_BUILDS}) or a percentage of desired ("25%")` };
}

/**
 * Staged builds allowed in flight at once: the count, or the percentage of the staged presets' desired total rounded
 * up (as Kubernetes rounds maxSurge), never below one so that a rollout always progresses.
 */
export function resolveSurge(spec: SurgeSpec, desiredTotal: number): number {
  if (spec.kind === 'builds') return spec.builds;
  return Math.max(1, Math.ceil((Math.max(desiredTotal, 0) * spec.percent) / 100));
}

/** How many more staged builds the surge budget allows now. */
export function surgeRemaining(rollout: { surgeBuilds: number; stagedInflight: number }): number {
  return Math.max(rollout.surgeBuilds - rollout.stagedInflight, 0);
}

/**
 * Splits each rollout's remaining surge among the staged creates of one batch, in order: the counts allowed, so
 * that the presets of one template written together never exceed its budget (each saw the same in-flight count).
 */
export function shareSurge(creates: readonly { rolloutId: string; surgeRemaining: number; count: number }[]): number[] {
  const used = new Map<string, number>();
  return creates.map((c) => {
    const allowed = Math.max(0, Math.min(c.count, c.surgeRemaining - (used.get(c.rolloutId) ?? 0)));
    used.set(c.rolloutId, (used.get(c.rolloutId) ?? 0) + allowed);
    return allowed;
  });
}

/** One staged preset as the promotion decision sees it. */
export type StagedPresetProgress = {
  presetId: string;
  name: string;
  /** Claimable prebuilds of the staged preset (running, ready, not expired). */
  eligible: number;
  /** What it must reach: its desired count now. */
  threshold: number;
  status: PresetStatusName;
};

export type RolloutStopReason = 'deadline' | 'failure_limit' | 'validation_failed';

export type RolloutDecision =
  | { kind: 'wait' }
  | { kind: 'promote' }
  | { kind: 'stop'; reason: RolloutStopReason; presetId: string | null; detail: string };

export const isWarm = (p: StagedPresetProgress): boolean => p.eligible >= p.threshold;

/**
 * What a staged rollout does at `now`: stop when a staged preset reached its failure limit or failed validation
 * (it will not get warm by itself), else promote when every staged preset is warm (at or before the deadline; a
 * version with no presets is warm at once), else stop once the deadline has passed, else wait.
 */
export function decideRollout(rollout: { deadlineAt: Date; presets: readonly StagedPresetProgress[] }, now: Date): RolloutDecision {
  const broken = rollout.presets.find((p) => p.status !== 'healthy');
  if (broken) {
    const reason = broken.status === 'hard_limited' ? 'failure_limit' : 'validation_failed';
    const what = reason === 'failure_limit' ? 'reached its failure limit' : 'cannot be built (validation failed)';
    return { kind: 'stop', reason, presetId: broken.presetId, detail: `staged preset "${broken.name}" ${what}` };
  }
  if (rollout.presets.every(isWarm)) return { kind: 'promote' };
  if (now.getTime() > rollout.deadlineAt.getTime()) {
    const cold = rollout.presets.filter((p) => !isWarm(p));
    return {
      kind: 'stop',
      reason: 'deadline',
      presetId: cold[0]?.presetId ?? null,
      detail: `not warm by the deadline: ${cold.map((p) => `"${p.name}" ${p.eligible}/${p.threshold} eligible`).join(', ')}`,
    };
  }
  return { kind: 'wait' };
}
