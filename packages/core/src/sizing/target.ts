/**
 * The desired count of an autoscaled preset and where it came from (`target_source` in the status).
 */
import { DateTime } from 'luxon';
import { isValidTimezone } from '../schedule.js';
import { compileExpression, DEMAND_WINDOWS_MINUTES, ExpressionError, type ExpressionInputs } from './expression.js';
import { forecastTarget, type IndexedHistory } from './forecast.js';
import { AUTOSCALING_CAP, DEFAULT_LEAD_TIME_SECONDS, type AutoscalingPolicy } from './policy.js';

export type TargetSource = 'scheduled' | 'expression' | 'expression_fallback' | 'forecast';

/** One recorded request for the preset: a hit claimed a prebuild, a miss found nothing eligible. */
export type DemandEvent = { at: Date; hit: boolean };

export type PoolCounts = { running: number; eligible: number; starting: number; stopping: number; deleting: number; expired: number };

export type SizingInput = {
  policy: AutoscalingPolicy | null;
  /** The schedule's (or base) count now. */
  scheduled: number;
  now: Date;
  /** IANA zone of the preset ('' = UTC), for the hour and weekday inputs. */
  timezone: string;
  pool: PoolCounts;
  /** Requests of at least the last 120 minutes (older ones are ignored). */
  recent: readonly DemandEvent[];
  history: IndexedHistory;
  /** Measured p95 build-to-eligible time, when known. */
  measuredLeadTimeSeconds: number | null;
  cap?: number;
};

export type SizingResult = {
  target: number;
  source: TargetSource;
  /** Forecast requests per hour (forecast policies past their cold start), else null. */
  forecastRate: number | null;
  /** Why an expression fell back to the schedule. */
  error: string | null;
};

const MINUTE_MS = 60_000;

/** Local hour and weekday (0 = Sunday) of `now` in the zone; UTC for '' or an unknown zone. */
function localClock(now: Date, timezone: string): { hour: number; weekday: number } {
  const t = DateTime.fromJSDate(now, { zone: isValidTimezone(timezone) ? timezone : 'UTC' });
  return { hour: t.hour, weekday: t.weekday % 7 };
}

/** The values an expression reads (EXPRESSION_INPUTS). Windows are (now − m minutes, now]. */
export function expressionInputs(input: Omit<SizingInput, 'policy' | 'history' | 'measuredLeadTimeSeconds'>): ExpressionInputs {
  const now = input.now.getTime();
  const values: ExpressionInputs = { scheduled_target: input.scheduled, ...input.pool, ...localClock(input.now, input.timezone) };
  for (const m of DEMAND_WINDOWS_MINUTES) {
    const from = now - m * MINUTE_MS;
    let claims = 0;
    let misses = 0;
    for (const e of input.recent) {
      const t = e.at.getTime();
      if (t <= from || t > now) continue;
      if (e.hit) claims++;
      else misses++;
    }
    values[`claims_${m}m`] = claims;
    values[`misses_${m}m`] = misses;
    values[`claim_rate_${m}m`] = ((claims + misses) * 60) / m;
  }
  return values;
}

/**
 * The desired count now. Without a policy: the schedule. An expression's result is rounded up and clamped to
 * [min, max] and the cap; an evaluation error answers the schedule with source `expression_fallback` and the error.
 * A forecast answers the schedule on a cold start (source `scheduled`).
 */
export function sizeTarget(input: SizingInput): SizingResult {
  const { policy } = input;
  const cap = input.cap ?? AUTOSCALING_CAP;
  const scheduled = { target: input.scheduled, source: 'scheduled' as const, forecastRate: null, error: null };
  if (!policy) return scheduled;
  const upper = Math.max(Math.min(policy.max, cap), 0);
  if (policy.kind === 'expression') {
    try {
      const value = compileExpression(policy.expression).evaluate(expressionInputs(input));
      return { target: Math.min(Math.max(Math.ceil(value), policy.min, 0), upper), source: 'expression', forecastRate: null, error: null };
    } catch (err) {
      const message = err instanceof ExpressionError ? err.message : String(err);
      return { ...scheduled, source: 'expression_fallback', error: message };
    }
  }
  const lead = policy.leadTimeSeconds ?? input.measuredLeadTimeSeconds ?? DEFAULT_LEAD_TIME_SECONDS;
  const forecast = forecastTarget(policy, { history: input.history, now: input.now, scheduled: input.scheduled, leadTimeSeconds: lead, cap });
  if (forecast.coldStart) return scheduled;
  return { target: forecast.target, source: 'forecast', forecastRate: forecast.rate, error: null };
}
