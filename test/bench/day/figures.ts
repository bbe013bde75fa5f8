/**
 * The `day` bench's figures (pure): what each request got (a hit, or a miss and its cause), time to usable, and
 * the standby's container-seconds and CPU-seconds from samples of the engine.
 */
import { percentile, type Figure } from '../lib.js';
import type { PresetName } from './trace.js';

/** One request as the claimant saw it; times are real epoch ms. */
export type RequestRecord = {
  preset: PresetName;
  burst: boolean;
  sentAt: number;
  /** The create answer's `claimed`; null when the create itself was refused. */
  claimed: boolean | null;
  /** The workspace's `usable_at`; null when it did not become usable. */
  usableAt: number | null;
  /** Its build failed or was canceled, or the create was refused: it will never be usable. */
  failed: boolean;
  /** Not usable (and not failed) when the claimant stopped waiting, this long after sending (ms). */
  gaveUpAfter?: number;
};

/** From the activation of a new version until its pool first had its desired count eligible (null: never). */
export type RolloutWindow = { preset: PresetName; from: number; to: number | null };

export type Cause = 'hit' | 'empty pool' | 'rollout' | 'burst' | 'failure';
export const MISS_CAUSES = ['empty pool', 'rollout', 'burst', 'failure'] as const;

/** A miss is a failure when its workspace's build failed, else rollout, else burst, else an empty pool. */
export function causeOf(r: RequestRecord, rollouts: readonly RolloutWindow[]): Cause {
  if (r.claimed) return 'hit';
  if (r.failed || r.claimed === null) return 'failure';
  if (rollouts.some((w) => w.preset === r.preset && r.sentAt >= w.from && (w.to === null || r.sentAt < w.to))) return 'rollout';
  return r.burst ? 'burst' : 'empty pool';
}

/**
 * One sample of the engine: every container of the run, whether it is a standby (unclaimed prebuild), whether it is
 * frozen (paused: the frozen tier), its CPU so far.
 */
export type EngineSample = { at: number; containers: { id: string; standby: boolean; frozen: boolean; cpuNs: number | null }[] };

/**
 * Container-seconds of hot and of frozen standby containers, and their CPU-seconds: an interval between two samples
 * counts for a container that was a standby at its start and still exists at its end, in the tier it had at its
 * start (its CPU: the growth of its counter over it).
 */
export function standbyUsage(samples: readonly EngineSample[]): { containerSeconds: number; frozenSeconds: number; cpuSeconds: number } {
  let containerSeconds = 0;
  let frozenSeconds = 0;
  let cpuNs = 0;
  for (let i = 1; i < samples.length; i++) {
    const before = new Map(samples[i - 1]!.containers.map((c) => [c.id, c]));
    const seconds = (samples[i]!.at - samples[i - 1]!.at) / 1000;
    for (const c of samples[i]!.containers) {
      const b = before.get(c.id);
      if (!b?.standby) continue;
      if (b.frozen) frozenSeconds += seconds;
      else containerSeconds += seconds;
      if (b.cpuNs !== null && c.cpuNs !== null) cpuNs += Math.max(0, c.cpuNs - b.cpuNs);
    }
  }
  return { containerSeconds, frozenSeconds, cpuSeconds: cpuNs / 1e9 };
}

export type DaySummary = {
  requests: number;
  hits: number;
  hitRate: number;
  misses: Record<(typeof MISS_CAUSES)[number], number>;
  neverUsable: number;
  /** Requests still not usable when the claimant stopped waiting (counted at that wait in the times: a lower bound). */
  gaveUp: number;
  /** ms; NaN without samples. */
  timeToUsable: Record<'hits' | 'misses' | 'overall', { p50: number; p95: number; p99: number }>;
  /** Hot standby container-seconds. */
  containerSeconds: number;
  frozenSeconds: number;
  cpuSeconds: number;
  buildsStarted: number;
  wasted: number;
};

export function summarize(
  records: readonly RequestRecord[],
  rollouts: readonly RolloutWindow[],
  samples: readonly EngineSample[],
  counts: { buildsStarted: number; wasted: number },
): DaySummary {
  const causes = records.map((r) => causeOf(r, rollouts));
  const misses = Object.fromEntries(MISS_CAUSES.map((c) => [c, causes.filter((x) => x === c).length])) as DaySummary['misses'];
  const waits = (pick: (cause: Cause) => boolean) =>
    records.flatMap((r, i) => {
      if (!pick(causes[i]!)) return [];
      if (r.usableAt !== null) return [Math.max(0, r.usableAt - r.sentAt)];
      return r.gaveUpAfter !== undefined ? [r.gaveUpAfter] : [];
    });
  const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p95: percentile(xs, 95), p99: percentile(xs, 99) });
  const hits = causes.filter((c) => c === 'hit').length;
  return {
    requests: records.length,
    hits,
    hitRate: records.length ? hits / records.length : Number.NaN,
    misses,
    neverUsable: records.filter((r) => r.failed).length,
    gaveUp: records.filter((r) => r.gaveUpAfter !== undefined).length,
    timeToUsable: { hits: stats(waits((c) => c === 'hit')), misses: stats(waits((c) => c !== 'hit')), overall: stats(waits(() => true)) },
    ...standbyUsage(samples),
    ...counts,
  };
}

const round = (x: number, digits = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);

/** The figures of one configuration; `targets` (the warmpool configuration's) compare with coder's summary. */
export function dayFigures(name: string, s: DaySummary, against?: DaySummary): Figure[] {
  const t = against !== undefined;
  const rows: Figure[] = [
    { name: `${name}: requests`, value: s.requests, unit: 'requests' },
    { name: `${name}: hit rate`, value: round(s.hitRate * 100, 1), unit: '%', ...(t ? { target: '≥ 99%', ok: s.hitRate >= 0.99 } : {}) },
    ...MISS_CAUSES.map((c) => ({
      name: `${name}: misses, ${c}`,
      value: s.misses[c],
      unit: 'misses',
      ...(t && c === 'rollout' ? { target: '0', ok: s.misses[c] === 0 } : {}),
      ...(c === 'failure' ? { note: `${s.neverUsable} request(s) never usable (build failed): excluded from the times` } : {}),
    })),
  ];
  for (const group of ['hits', 'misses', 'overall'] as const) {
    const q = s.timeToUsable[group];
    for (const p of ['p50', 'p95', 'p99'] as const) {
      const target = t && group === 'overall' && p === 'p95' ? { target: '≤ 1000', ok: q[p] <= 1000 } : {};
      const note = s.gaveUp > 0 && group !== 'hits' ? { note: `${s.gaveUp} request(s) not usable when given up count at that wait: a lower bound` } : {};
      rows.push({ name: `${name}: time to usable, ${group}, ${p}`, value: Math.round(q[p]), unit: 'ms', ...target, ...note });
    }
  }
  rows.push(
    { name: `${name}: standby container-seconds (hot)`, value: round(s.containerSeconds), unit: 's', ...(t ? { target: `≤ ${round(against.containerSeconds)} (coder)`, ok: s.containerSeconds <= against.containerSeconds } : {}) },
    { name: `${name}: standby container-seconds (frozen)`, value: round(s.frozenSeconds), unit: 's' },
    {
      name: `${name}: standby CPU-seconds`,
      value: round(s.cpuSeconds, 2),
      unit: 's',
      ...(t ? { target: `≤ ${round(against.cpuSeconds / 2, 2)} (50% of coder)`, ok: s.cpuSeconds <= against.cpuSeconds / 2 } : {}),
    },
    { name: `${name}: builds started`, value: s.buildsStarted, unit: 'builds' },
    { name: `${name}: prebuilds deleted unclaimed (waste)`, value: s.wasted, unit: 'prebuilds' },
  );
  return rows;
}

/** warmpool ÷ coder for each figure both have (NaN where coder's is 0). */
export function ratioFigures(coder: Figure[], warmpool: Figure[]): Figure[] {
  const byName = new Map(coder.map((f) => [f.name.replace(/^[^:]+: /, ''), f.value]));
  return warmpool.flatMap((f) => {
    const key = f.name.replace(/^[^:]+: /, '');
    const base = byName.get(key);
    if (base === undefined) return [];
    return [{ name: `warmpool/coder: ${key}`, value: base === 0 ? Number.NaN : round(f.value / base, 2), unit: '×', note: `${f.value} vs ${base}` }];
  });
}
