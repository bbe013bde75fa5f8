import type { TargetSource } from '@warmpool/core';
import type { History, PreviewPoint } from './api.js';

/** The chart's series in plain numbers (x in Unix seconds), exposed on the figure and window for tests. */
export type ChartSeries = {
  now: number;
  /** What decides the desired count now (the status's `targetSource`). */
  targetSource: TargetSource;
  /**
   * The desired count as decided: the recorded samples, then the current decision at now; right of now only when
   * the schedule decides (an expression or a forecast decides at run time, so its future is not known).
   */
  desired: { t: number; desired: number }[];
  /** The schedule preview from now on, its own series whatever decides. */
  preview: { t: number; desired: number }[];
  samples: { t: number; desired: number; eligible: number }[];
  hits: { t: number; count: number }[];
  misses: { t: number; count: number }[];
};

/** What decides the count, in the words of the chart's legend. */
export const TARGET_SOURCE_LABELS: Record<TargetSource, string> = {
  scheduled: 'schedule',
  expression: 'expression',
  expression_fallback: 'schedule, expression failed',
  forecast: 'forecast',
};

const seconds = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);

export function chartSeries(preview: PreviewPoint[], history: History | undefined, now: Date, to: Date, decided: { desiredNow: number; targetSource: TargetSource }): ChartSeries {
  const points = preview.map((p) => ({ t: seconds(p.at), desired: p.instances }));
  // The last level holds until the end of the window: a step needs its end point.
  const last = points.at(-1);
  if (last && last.t < to.getTime() / 1000) points.push({ t: Math.floor(to.getTime() / 1000), desired: last.desired });
  const nowT = Math.floor(now.getTime() / 1000);
  const samples = (history?.samples ?? []).map((s) => ({ t: seconds(s.at), desired: s.desired, eligible: s.eligible }));
  const desired = [...samples.filter((s) => s.t < nowT).map((s) => ({ t: s.t, desired: s.desired })), { t: nowT, desired: decided.desiredNow }];
  if (decided.targetSource === 'scheduled') desired.push(...points.filter((p) => p.t > nowT));
  return {
    now: nowT,
    targetSource: decided.targetSource,
    desired,
    preview: points,
    samples,
    hits: (history?.hits ?? []).map((h) => ({ t: seconds(h.at), count: h.count })),
    misses: (history?.misses ?? []).map((h) => ({ t: seconds(h.at), count: h.count })),
  };
}
