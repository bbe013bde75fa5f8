import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

// PostgreSQL client spans, only inside a trace that is recording (a claim, a reconcile, a build result): a statement
// with no recording parent (the relay's poll, a health probe) starts nothing, so tracing off or an idle service costs
// one getActiveSpan() per statement. Statement text and values are never recorded: values may hold user data.

const tracer = () => trace.getTracer('warmpool-db');

/** `fn` inside a CLIENT span named `name` when a recording span is active; `fn` alone otherwise. */
export function withDbSpan<T>(name: string, attributes: Record<string, string | number>, fn: () => Promise<T>): Promise<T> {
  if (!trace.getActiveSpan()?.isRecording()) return fn();
  return tracer().startActiveSpan(name, { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', ...attributes } }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The statement's first keyword (SELECT, INSERT, …): a low-cardinality name that cannot carry a value. */
export function operationOf(text: unknown): string {
  const match = typeof text === 'string' ? /^\s*(?:--[^\n]*\n\s*)*([A-Za-z]+)/.exec(text) : null;
  return match ? match[1]!.toUpperCase() : 'QUERY';
}
