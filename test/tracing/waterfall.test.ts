import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderWaterfall, spansOfOtlpJson, treeOrder, type WaterfallSpan } from './waterfall.js';

// The trace picture's pure parts: reading an OTLP/JSON export and drawing one trace in tree order.

const span = (spanId: string, parentSpanId: string | undefined, startMs: number, endMs: number, service = 'warmpool-api'): WaterfallSpan => ({
  traceId: 't',
  spanId,
  ...(parentSpanId ? { parentSpanId } : {}),
  name: `span ${spanId}`,
  service,
  startMs,
  endMs,
});

test('an OTLP/JSON export is read with each resource’s service name and nanosecond times beyond 2^53', () => {
  const spans = spansOfOtlpJson({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'warmpool-reconciler' } }] },
        scopeSpans: [{ spans: [{ traceId: 'ab', spanId: 'cd', parentSpanId: 'ef', name: 'reconcile preset', startTimeUnixNano: '1796610000123456789', endTimeUnixNano: '1796610000125456789' }] }],
      },
      { scopeSpans: [{ spans: [{ traceId: 'ab', spanId: 'gh', name: 'root', startTimeUnixNano: 5_000_000, endTimeUnixNano: 6_000_000 }] }] },
    ],
  });
  assert.equal(spans.length, 2);
  assert.deepEqual({ ...spans[0], startMs: undefined, endMs: undefined }, { traceId: 'ab', spanId: 'cd', parentSpanId: 'ef', name: 'reconcile preset', service: 'warmpool-reconciler', startMs: undefined, endMs: undefined });
  assert.ok(Math.abs(spans[0]!.endMs - spans[0]!.startMs - 2) < 1e-6, 'a 2 ms span stays 2 ms');
  assert.equal(spans[1]!.service, 'unknown');
  assert.equal(spans[1]!.parentSpanId, undefined);
  assert.deepEqual(spansOfOtlpJson({}), []);
});

test('spans are drawn in tree order: each parent before its children, siblings by start, orphans as roots', () => {
  const order = treeOrder([span('c2', 'r', 5, 6), span('r', undefined, 0, 10), span('c1', 'r', 1, 4), span('g', 'c1', 2, 3), span('o', 'missing', 7, 8)]);
  assert.deepEqual(
    order.map((r) => [r.span.spanId, r.depth]),
    [
      ['r', 0],
      ['c1', 1],
      ['g', 2],
      ['c2', 1],
      ['o', 0],
    ],
  );
});

test('the picture has a bar per span, a colour per service, and escapes its text', () => {
  const svg = renderWaterfall([span('r', undefined, 0, 10), span('c', 'r', 2, 4, 'warmpool-provisioner-sim')], 'claim <1>');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.includes('claim &lt;1&gt;'));
  assert.equal(svg.match(/<rect [^>]*height="12"/g)?.length, 2, 'one bar per span');
  assert.ok(svg.includes('warmpool-provisioner-sim') && svg.includes('#f28e2b'), 'a second service gets the second colour');
  assert.ok(svg.includes('10 ms in all'));
});
