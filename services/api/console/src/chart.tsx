import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { TARGET_SOURCE_LABELS, type ChartSeries } from './chart-series.js';
import { fullTime } from './format.js';

declare global {
  interface Window {
    warmpoolChart?: ChartSeries;
  }
}

/** uPlot wants one x array and one y array per series, aligned; a series is null where it has no point. */
function aligned(series: ChartSeries): uPlot.AlignedData {
  const xs = [...new Set([...series.desired.map((d) => d.t), ...series.samples.map((s) => s.t), ...series.preview.map((p) => p.t), ...series.hits.map((h) => h.t), ...series.misses.map((h) => h.t)])].sort((a, b) => a - b);
  const at = <T,>(list: T[], key: (v: T) => number, value: (v: T) => number) => {
    const m = new Map(list.map((v) => [key(v), value(v)]));
    return xs.map((x) => m.get(x) ?? null);
  };
  return [
    xs,
    at(series.desired, (d) => d.t, (d) => d.desired),
    at(series.preview, (p) => p.t, (p) => p.desired),
    at(series.samples, (s) => s.t, (s) => s.eligible),
    at(series.hits, (h) => h.t, (h) => h.count),
    at(series.misses, (h) => h.t, (h) => h.count),
  ];
}

const COLORS = { desired: '#1f5fbf', schedule: '#9a6700', eligible: '#1a7f37', hits: '#8250df', misses: '#cf222e', now: '#6e7781' };

export function PoolChart(props: { series: ChartSeries; title: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { series } = props;
  useEffect(() => {
    window.warmpoolChart = series;
    const el = box.current;
    if (!el) return;
    const width = Math.max(el.clientWidth, 280);
    // Hits left of the hour's mark, misses right of it, so the two never hide each other.
    const hitBars = uPlot.paths.bars?.({ size: [0.4, 4], align: -1 });
    const missBars = uPlot.paths.bars?.({ size: [0.4, 4], align: 1 });
    const opts: uPlot.Options = {
      width,
      height: width < 500 ? 220 : 300,
      series: [
        {},
        { label: `Desired (${TARGET_SOURCE_LABELS[series.targetSource]})`, stroke: COLORS.desired, width: 2, paths: uPlot.paths.stepped?.({ align: 1 }), spanGaps: true, points: { show: false } },
        // Dashed, so that where the schedule decides it shows under the desired line.
        { label: 'Schedule', stroke: COLORS.schedule, width: 1.5, dash: [6, 4], paths: uPlot.paths.stepped?.({ align: 1 }), spanGaps: true, points: { show: false } },
        // Few samples (a new pool) are drawn as dots, many as a line.
        { label: 'Eligible (recorded)', stroke: COLORS.eligible, width: 2, spanGaps: true, points: { show: series.samples.length < 48, size: 6, fill: COLORS.eligible } },
        { label: 'Hits per hour', stroke: COLORS.hits, fill: 'rgba(130,80,223,0.35)', ...(hitBars ? { paths: hitBars } : {}), points: { show: false } },
        { label: 'Misses per hour', stroke: COLORS.misses, fill: 'rgba(207,34,46,0.35)', ...(missBars ? { paths: missBars } : {}), points: { show: false } },
      ],
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] } },
      axes: [{}, { label: 'prebuilds', size: 50, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }],
      legend: { live: true },
      hooks: {
        draw: [
          (u) => {
            const x = Math.round(u.valToPos(series.now, 'x', true));
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = COLORS.now;
            ctx.setLineDash([4, 4]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.restore();
          },
        ],
      },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, aligned(series), el);
    const resize = new ResizeObserver(() => {
      const w = Math.max(el.clientWidth, 280);
      plot.current?.setSize({ width: w, height: w < 500 ? 220 : 300 });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series]);
  return (
    <figure class="chart" data-testid="pool-chart" data-preview={JSON.stringify(series.preview)} data-target-source={series.targetSource} aria-labelledby="chart-title">
      <figcaption id="chart-title">{props.title}</figcaption>
      <p class="hint">The dashed line is now ({fullTime(new Date(series.now * 1000).toISOString())}); left of it what was recorded, right of it the schedule{series.targetSource === 'scheduled' ? ', which decides the desired count' : `; the ${TARGET_SOURCE_LABELS[series.targetSource]} decides the desired count as it goes`}.</p>
      <div ref={box} class="chart-box" />
    </figure>
  );
}
