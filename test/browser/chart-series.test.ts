import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartSeries } from '../../services/api/console/src/chart-series.js';
import type { History } from '../../services/api/console/src/api.js';

// The preset chart's series (issue 22, item 9): the desired line is what decides the count, the schedule its own line.
const now = new Date('2026-12-07T10:00:00Z');
const to = new Date('2026-12-07T20:00:00Z');
const t = (iso: string) => new Date(iso).getTime() / 1000;
const preview = [
  { at: now.toISOString(), instances: 2 },
  { at: '2026-12-07T18:00:00Z', instances: 0 },
];
const history: History = {
  since: '2026-11-30T10:00:00Z',
  sampleIntervalMs: 300_000,
  samples: [{ at: '2026-12-07T09:00:00Z', desired: 3, eligible: 1 }],
  hits: [],
  misses: [],
};

test('an autoscaled preset draws its decided count up to now, and the schedule apart', () => {
  const series = chartSeries(preview, history, now, to, { desiredNow: 4, targetSource: 'forecast' });
  assert.equal(series.targetSource, 'forecast');
  assert.deepEqual(series.desired, [
    { t: t('2026-12-07T09:00:00Z'), desired: 3 },
    { t: t(now.toISOString()), desired: 4 },
  ]);
  assert.deepEqual(series.preview, [
    { t: t(now.toISOString()), desired: 2 },
    { t: t('2026-12-07T18:00:00Z'), desired: 0 },
    { t: t(to.toISOString()), desired: 0 },
  ]);
});

test('a scheduled preset draws the schedule ahead as its desired count', () => {
  const series = chartSeries(preview, history, now, to, { desiredNow: 2, targetSource: 'scheduled' });
  assert.deepEqual(series.desired, [
    { t: t('2026-12-07T09:00:00Z'), desired: 3 },
    { t: t(now.toISOString()), desired: 2 },
    { t: t('2026-12-07T18:00:00Z'), desired: 0 },
    { t: t(to.toISOString()), desired: 0 },
  ]);
});

test('an expression that fell back to the schedule does not claim the schedule decides ahead', () => {
  const series = chartSeries(preview, undefined, now, to, { desiredNow: 2, targetSource: 'expression_fallback' });
  assert.deepEqual(series.desired, [{ t: t(now.toISOString()), desired: 2 }]);
});
