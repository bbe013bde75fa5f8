/**
 * A trace drawn as a waterfall (pure): spans exported as OTLP/JSON (what `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`
 * sends) are read into one list, and one trace is drawn as an SVG, a row per span in tree order, coloured by service.
 * Used by `npm run trace:picture` (test/tracing/picture.ts) for docs/OPERATIONS.md's picture of a claim.
 */

export type WaterfallSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string; service: string; startMs: number; endMs: number };

type OtlpValue = { stringValue?: string };
type OtlpJson = {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; startTimeUnixNano: string | number; endTimeUnixNano: string | number }[] }[];
  }[];
};

/** Every span of an OTLP/JSON export request body, with its resource's service.name. */
export function spansOfOtlpJson(body: OtlpJson): WaterfallSpan[] {
  return (body.resourceSpans ?? []).flatMap((rs) => {
    const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? 'unknown';
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
        name: s.name,
        service,
        // Nanoseconds since the epoch exceed 2^53: read as BigInt, kept as fractional milliseconds.
        startMs: Number(BigInt(s.startTimeUnixNano) / 1000n) / 1000,
        endMs: Number(BigInt(s.endTimeUnixNano) / 1000n) / 1000,
      })),
    );
  });
}

/** The spans of one trace in tree order (each parent before its children, siblings by start), with their depth. */
export function treeOrder(spans: readonly WaterfallSpan[]): { span: WaterfallSpan; depth: number }[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, WaterfallSpan[]>();
  for (const s of spans) {
    // A span whose parent is not in the list (not exported, or from another trace) is drawn as a root.
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const out: { span: WaterfallSpan; depth: number }[] = [];
  const visit = (parent: string | undefined, depth: number) => {
    for (const s of [...(children.get(parent) ?? [])].sort((a, b) => a.startMs - b.startMs || a.spanId.localeCompare(b.spanId))) {
      out.push({ span: s, depth });
      visit(s.spanId, depth + 1);
    }
  };
  visit(undefined, 0);
  return out;
}

const ROW = 18;
const LABEL_W = 330;
const BAR_W = 560;
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#9c755f'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const n = (x: number) => (Math.round(x * 10) / 10).toString();

/** The waterfall of one trace's spans as an SVG document. */
export function renderWaterfall(spans: readonly WaterfallSpan[], title: string): string {
  const rows = treeOrder(spans);
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const t1 = Math.max(...spans.map((s) => s.endMs));
  const total = Math.max(t1 - t0, 1e-3);
  const services = [...new Set(rows.map((r) => r.span.service))];
  const colour = (service: string) => PALETTE[services.indexOf(service) % PALETTE.length]!;
  const top = 56;
  const height = top + rows.length * ROW + 24;
  const x = (ms: number) => LABEL_W + ((ms - t0) / total) * BAR_W;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL_W + BAR_W + 90}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<text x="8" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="8" y="36">${spans.length} spans, ${n(total)} ms in all</text>`,
    ...services.map((s, i) => `<rect x="${LABEL_W + i * 170}" y="28" width="10" height="10" fill="${colour(s)}"/><text x="${LABEL_W + i * 170 + 14}" y="37">${esc(s)}</text>`),
  ];
  rows.forEach(({ span, depth }, i) => {
    const y = top + i * ROW;
    const width = Math.max(((span.endMs - span.startMs) / total) * BAR_W, 1);
    out.push(
      `<text x="${8 + depth * 12}" y="${y + 12}">${esc(span.name)}</text>`,
      `<rect x="${n(x(span.startMs))}" y="${y + 3}" width="${n(width)}" height="${ROW - 6}" fill="${colour(span.service)}"><title>${esc(`${span.service}: ${span.name}`)}</title></rect>`,
      `<text x="${n(x(span.startMs) + width + 4)}" y="${y + 12}" fill="#555">${n(span.endMs - span.startMs)} ms</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
