/**
 * The `day` bench's configurations and what they ask of each pool over the day (pure). A configuration is one small
 * JSON file beside this module (coder.json, warmpool.json); each later feature adds its own line to it.
 */
import { readFileSync } from 'node:fs';
import { AUTOSCALING_CAP, desiredInstancesAt, indexHistory, sizeTarget, toHourly, type AutoscalingPolicy } from '@warmpool/core';
import { bestStaticSchedule } from '../sizing.js';
import { PROFILES, WINDOW, type DayTrace, type PresetName } from './trace.js';

/** A configuration file's settings; every key is required and none other is allowed (a typo must not pass). */
export type DayConfig = {
  name: string;
  description: string;
  /** best-static-schedule: docs/SIZING.md's rule, with hindsight on the day; forecast: the forecast policy. */
  sizing: 'best-static-schedule' | 'forecast';
  target_hit_rate: number;
  /** activate-at-once: v2 is active on import (Coder's way); staged: warmed first, made active when warm (§4.7). */
  rollout: 'activate-at-once' | 'staged';
  claim: 'ready-prebuild-or-cold';
  /** running: every standby instance runs; { hot: N }: N per preset run, the rest are frozen (§4.6). */
  standby: 'running' | { hot: number };
};

const ALLOWED: Record<Exclude<keyof DayConfig, 'name'>, (v: unknown) => boolean> = {
  description: (v) => typeof v === 'string',
  sizing: (v) => v === 'best-static-schedule' || v === 'forecast',
  target_hit_rate: (v) => typeof v === 'number' && v > 0 && v < 1,
  rollout: (v) => v === 'activate-at-once' || v === 'staged',
  claim: (v) => v === 'ready-prebuild-or-cold',
  standby: (v) => v === 'running' || (isRecord(v) && Object.keys(v).join() === 'hot' && Number.isInteger(v.hot) && (v.hot as number) >= 0),
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const CONFIG_NAMES = ['coder', 'warmpool'] as const;

export function loadDayConfig(name: string): DayConfig {
  const raw = JSON.parse(readFileSync(new URL(`./${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
  const bad = [...new Set([...Object.keys(raw), ...Object.keys(ALLOWED)])].filter((k) => !(k in ALLOWED) || !ALLOWED[k as keyof typeof ALLOWED](raw[k]));
  if (bad.length > 0) throw new Error(`test/bench/day/${name}.json: unknown, missing or invalid ${bad.join(', ')}`);
  return { ...(raw as Omit<DayConfig, 'name'>), name };
}

/** A change of a pool's desired count at a virtual instant. */
export type DesiredChange = { at: number; desired: number };

// Targets change at hour boundaries and stabilization ends: a 5-minute step sees them all (and is cheap).
const STEP_MS = 5 * 60_000;

/**
 * Each preset's desired count over the working day, as changes (the first at its start), evaluated every virtual
 * 5 minutes by core's sizeTarget, the function the reconciler sizes pools with: the static schedule (policy null), or
 * the forecast over the history and the day's requests so far. `leadTimeSeconds` is virtual.
 */
export function desiredChanges(config: DayConfig, trace: DayTrace, leadTimeSeconds: number): Record<PresetName, DesiredChange[]> {
  const out = {} as Record<PresetName, DesiredChange[]>;
  for (const preset of Object.keys(PROFILES) as PresetName[]) {
    const day = trace.requests.filter((r) => r.preset === preset).map((r) => new Date(r.at));
    const schedule = bestStaticSchedule({ requests: day, from: new Date(WINDOW.from), to: new Date(WINDOW.to), zone: 'UTC', leadTimeSeconds, target: config.target_hit_rate }).schedule;
    const policy: AutoscalingPolicy | null =
      config.sizing === 'forecast'
        ? { kind: 'forecast', targetHitRate: config.target_hit_rate, min: 0, max: AUTOSCALING_CAP, leadTimeSeconds, stabilizationSeconds: 300 }
        : null;
    const history = indexHistory(toHourly([...trace.history[preset], ...day].map((d) => d.getTime())));
    const changes: DesiredChange[] = [];
    for (let at = WINDOW.from; at < WINDOW.to; at += STEP_MS) {
      const { target } = sizeTarget({
        policy,
        scheduled: desiredInstancesAt(schedule, new Date(at)),
        now: new Date(at),
        timezone: 'UTC',
        pool: { running: 0, eligible: 0, starting: 0, stopping: 0, deleting: 0, expired: 0 },
        recent: [],
        history,
        measuredLeadTimeSeconds: leadTimeSeconds,
      });
      if (changes.at(-1)?.desired !== target) changes.push({ at, desired: target });
    }
    out[preset] = changes;
  }
  return out;
}

/** The desired count in force at `at`, from a list of changes. */
export function desiredAt(changes: readonly DesiredChange[], at: number): number {
  let value = 0;
  for (const c of changes) if (c.at <= at) value = c.desired;
  return value;
}
