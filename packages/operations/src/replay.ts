import {
  DEFAULT_LEAD_TIME_SECONDS,
  parseStoredAutoscaling,
  type ManifestProblem,
  type ReplayResult,
} from '@warmpool/core';
import { DEMAND_HISTORY_DAYS, loadDemandSummaries, loadDemandTrace, loadPresetSnapshot, type Pool } from '@warmpool/db';
import { offload } from './offload/pool.js';

export const MAX_REPLAY_DAYS = 28;
const DAY_MS = 86_400_000;

export type ReplayRequest = {
  days: number;
  /**
   * A proposed `prebuilds` fragment (instances, scheduling, autoscaling); fields given replace the preset's current
   * ones, so `{ "autoscaling": { ... } }` tries a policy on the current schedule. Absent: the current policy.
   */
  prebuilds?: unknown;
  now?: Date;
  /** Time budget of the simulation (default OFFLOAD_BUDGET_MS). */
  budgetMs?: number;
};

export type PresetReplay = ReplayResult & {
  presetId: string;
  policy: 'current' | 'proposed';
  from: string;
  to: string;
  leadTimeSeconds: number;
  /** What the recorded requests actually met. */
  recorded: { requests: number; hits: number; misses: number; hitRate: number | null };
};

export class ReplayInputError extends Error {
  override name = 'ReplayInputError';
  constructor(readonly details: ManifestProblem[]) {
    super(details.map((d) => `${d.path}: ${d.message}`).join('; '));
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Replays the last `days` of a preset's recorded requests against its current or a proposed policy (dry run:
 * nothing is written). Null when the preset does not exist; ReplayInputError (paths under `prebuilds`) for a bad
 * proposal. The forecast reads the 28 days of history before each simulated instant, as it would have live.
 */
export async function replayPreset(pool: Pool, presetId: string, request: ReplayRequest): Promise<PresetReplay | null> {
  if (!Number.isInteger(request.days) || request.days < 1 || request.days > MAX_REPLAY_DAYS) {
    throw new ReplayInputError([{ path: 'days', message: `must be an integer between 1 and ${MAX_REPLAY_DAYS}` }]);
  }
  const row = await loadPresetSnapshot(pool, presetId);
  if (!row) return null;
  const current = {
    instances: row.preset.instances,
    ...(row.preset.timezone && Array.isArray(row.preset.schedules) && row.preset.schedules.length
      ? { scheduling: { timezone: row.preset.timezone, schedule: row.preset.schedules } }
      : {}),
    ...(row.preset.autoscaling ? { autoscaling: row.preset.autoscaling } : {}),
  };
  let prebuilds: Record<string, unknown> = current;
  if (request.prebuilds !== undefined) {
    if (!isRecord(request.prebuilds)) throw new ReplayInputError([{ path: 'prebuilds', message: 'must be an object' }]);
    prebuilds = { ...current, ...request.prebuilds };
    // null removes a field (e.g. "autoscaling": null tries the schedule alone).
    for (const [key, value] of Object.entries(prebuilds)) if (value === null) delete prebuilds[key];
    // Checked in a worker thread too: expanding 64 long crons can take a second.
    const checked = await offload('manifestTask', { name: 'replay', presets: [{ name: 'replay', prebuilds }] }, { path: 'prebuilds', label: 'checking the proposal' }, request.budgetMs);
    if (!checked.ok) {
      throw new ReplayInputError(checked.details.map((e) => ({ path: e.path.replace(/^manifest\./, '').replace(/^presets\[0\]\.prebuilds/, 'prebuilds').replace(/^presets\[0\]/, 'prebuilds'), message: e.message })));
    }
  }
  const policy = parseStoredAutoscaling(prebuilds.autoscaling ?? null).policy;
  const scheduling = isRecord(prebuilds.scheduling) ? prebuilds.scheduling : undefined;
  const schedule = {
    instances: Number(prebuilds.instances ?? 0),
    timezone: typeof scheduling?.timezone === 'string' ? scheduling.timezone : '',
    schedules: Array.isArray(scheduling?.schedule) ? (scheduling.schedule as { cron: string; instances: number }[]) : [],
  };
  const now = request.now ?? new Date();
  const to = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000);
  const from = new Date(to.getTime() - request.days * DAY_MS);
  const trace = await loadDemandTrace(pool, presetId, new Date(from.getTime() - DEMAND_HISTORY_DAYS * DAY_MS), to);
  const [demand] = await loadDemandSummaries(pool, [presetId], now);
  const leadTimeSeconds = Math.round(
    (policy?.kind === 'forecast' ? policy.leadTimeSeconds : null) ?? demand?.leadTimeP95Seconds ?? DEFAULT_LEAD_TIME_SECONDS,
  );
  // Minute by minute over up to 28 days: in a worker thread, with a time budget (issue 21).
  const result = await offload('replayTask', { policy, schedule, requests: trace.map((e) => e.at), from, to, leadTimeSeconds }, { path: 'days', label: `replaying ${request.days} days` }, request.budgetMs);
  const inWindow = trace.filter((e) => e.at >= from);
  const hits = inWindow.filter((e) => e.hit).length;
  return {
    presetId,
    policy: request.prebuilds === undefined ? 'current' : 'proposed',
    from: from.toISOString(),
    to: to.toISOString(),
    leadTimeSeconds,
    recorded: { requests: inWindow.length, hits, misses: inWindow.length - hits, hitRate: inWindow.length ? hits / inWindow.length : null },
    ...result,
  };
}
