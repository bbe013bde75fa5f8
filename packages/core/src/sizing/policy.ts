/**
 * Autoscaling policies of a preset (`prebuilds.autoscaling` in the manifest): an expression over recent demand
 * (Coder's `desired_instances_expression`) or a forecast sized to a hit-rate target. Stored as the manifest
 * fragment (snake_case JSON) and re-parsed on every evaluation, like stored schedules.
 */
import { LRUCache } from 'lru-cache';
import { compileExpression, ExpressionError } from './expression.js';

/** Every autoscaled target is at most this (Coder clamps expressions to 0–100); the forecast's `max` may not exceed it. */
export const AUTOSCALING_CAP = 100;
/** Lead time when neither the policy nor measurements give one: a typical build-to-ready time. */
export const DEFAULT_LEAD_TIME_SECONDS = 300;
/** Scale-down stabilization window (Kubernetes' HPA uses the same default). */
export const DEFAULT_STABILIZATION_SECONDS = 300;
export const MAX_EXPRESSION_LENGTH = 1_000;
export const MAX_LEAD_TIME_SECONDS = 6 * 3600;
export const MAX_STABILIZATION_SECONDS = 24 * 3600;

export type ExpressionPolicy = { kind: 'expression'; expression: string; min: number; max: number };
export type ForecastPolicy = {
  kind: 'forecast';
  targetHitRate: number;
  min: number;
  max: number;
  /** null: the measured p95 build-to-eligible time of the preset (else DEFAULT_LEAD_TIME_SECONDS). */
  leadTimeSeconds: number | null;
  stabilizationSeconds: number;
};
export type AutoscalingPolicy = ExpressionPolicy | ForecastPolicy;

/** The manifest fragment as written (and stored). */
export type AutoscalingManifest = {
  expression?: string;
  target_hit_rate?: number;
  min?: number;
  max?: number;
  lead_time?: number;
  stabilization_window?: number;
};

export type PolicyProblem = { path: string; message: string };

const FIELDS = ['expression', 'target_hit_rate', 'min', 'max', 'lead_time', 'stabilization_window'] as const;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

/**
 * Every problem of an autoscaling fragment, with paths relative to it (`expression`, `max`, `(root)`), and the
 * policy when there is none. Used at import (paths prefixed by the manifest validator) and on stored data.
 */
export function checkAutoscaling(raw: unknown): { policy: AutoscalingPolicy; problems: [] } | { policy: null; problems: PolicyProblem[] } {
  if (!isRecord(raw)) return { policy: null, problems: [{ path: '(root)', message: 'must be an object' }] };
  const problems: PolicyProblem[] = [];
  for (const key of Object.keys(raw)) {
    if (!(FIELDS as readonly string[]).includes(key)) problems.push({ path: key, message: `unknown field "${key}"` });
  }
  const { expression, target_hit_rate: rate, min = 0, max = AUTOSCALING_CAP, lead_time: lead, stabilization_window: window } = raw;
  if ((expression === undefined) === (rate === undefined)) {
    problems.push({ path: '(root)', message: 'needs exactly one of "expression" or "target_hit_rate"' });
  }
  if (expression !== undefined) {
    if (typeof expression !== 'string' || expression.trim() === '') problems.push({ path: 'expression', message: 'must be a non-empty string' });
    else if (expression.length > MAX_EXPRESSION_LENGTH) problems.push({ path: 'expression', message: `must be at most ${MAX_EXPRESSION_LENGTH} characters` });
    else {
      try {
        compileExpression(expression);
      } catch (err) {
        problems.push({ path: 'expression', message: err instanceof ExpressionError ? err.message : 'invalid expression' });
      }
    }
    if (lead !== undefined) problems.push({ path: 'lead_time', message: 'applies only with target_hit_rate' });
    if (window !== undefined) problems.push({ path: 'stabilization_window', message: 'applies only with target_hit_rate' });
  }
  if (rate !== undefined && !(typeof rate === 'number' && rate > 0 && rate < 1 && rate <= 0.999)) {
    problems.push({ path: 'target_hit_rate', message: 'must be a number above 0 and at most 0.999 (for example 0.95)' });
  }
  if (!isInt(min, 0, AUTOSCALING_CAP)) problems.push({ path: 'min', message: `must be an integer between 0 and ${AUTOSCALING_CAP}` });
  if (!isInt(max, 0, AUTOSCALING_CAP)) problems.push({ path: 'max', message: `must be an integer between 0 and ${AUTOSCALING_CAP}` });
  else if (isInt(min, 0, AUTOSCALING_CAP) && min > max) problems.push({ path: 'min', message: `must be ≤ max (${max})` });
  if (lead !== undefined && !isInt(lead, 1, MAX_LEAD_TIME_SECONDS)) problems.push({ path: 'lead_time', message: `must be an integer number of seconds between 1 and ${MAX_LEAD_TIME_SECONDS}` });
  if (window !== undefined && !isInt(window, 0, MAX_STABILIZATION_SECONDS)) {
    problems.push({ path: 'stabilization_window', message: `must be an integer number of seconds between 0 and ${MAX_STABILIZATION_SECONDS}` });
  }
  if (problems.length) return { policy: null, problems };
  const bounds = { min: min as number, max: max as number };
  if (typeof expression === 'string') return { policy: { kind: 'expression', expression, ...bounds }, problems: [] };
  return {
    policy: {
      kind: 'forecast',
      targetHitRate: rate as number,
      ...bounds,
      leadTimeSeconds: (lead as number | undefined) ?? null,
      stabilizationSeconds: (window as number | undefined) ?? DEFAULT_STABILIZATION_SECONDS,
    },
    problems: [],
  };
}

/** Valid stored policies by their JSON, bounded in entries and key length; problems are recomputed, never stored. */
const storedCache = new LRUCache<string, { policy: AutoscalingPolicy; problem: null }>({ max: 2_000, maxSize: 8_000_000, maxEntrySize: 16_000, sizeCalculation: (_v, key) => key.length });

/**
 * The policy of stored data (null/undefined: none). Stored data that no longer validates is a problem, not a crash:
 * the caller falls back to the schedule. Memoised: reconcilers evaluate the same stored fragment constantly.
 */
export function parseStoredAutoscaling(raw: unknown): { policy: AutoscalingPolicy | null; problem: string | null } {
  if (raw === null || raw === undefined) return { policy: null, problem: null };
  const key = JSON.stringify(raw);
  const cached = storedCache.get(key);
  if (cached) return cached;
  const checked = checkAutoscaling(raw);
  if (!checked.policy) return { policy: null, problem: `stored autoscaling policy is invalid: ${checked.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}` };
  const result = { policy: checked.policy, problem: null };
  storedCache.set(key, result);
  return result;
}
