import type { FastifyInstance, FastifyRequest } from 'fastify';
import { contextFromTraceparent, runWithSpan, SpanKind, SpanStatusCode, startSpan, type Span } from '@warmpool/runtime';

/**
 * One server span per HTTP request, continuing a caller's W3C `traceparent`, active for the hooks and handler that
 * follow (so the claim and its transaction are its children). Named by route template, never the raw URL: paths and
 * query strings may hold names or tokens, and templates keep span names few.
 */
export function installRequestSpans(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    const header = request.headers.traceparent;
    const span = startSpan(`${request.method}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method } }, contextFromTraceparent(typeof header === 'string' ? header : undefined));
    spans.set(request, span);
    runWithSpan(span, done);
  });
  const end = (request: FastifyRequest, status: number | undefined) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    const route = request.routeOptions.url;
    if (route) span.updateName(`${request.method} ${route}`).setAttribute('http.route', route);
    if (status === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: 'request aborted' });
    else {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  app.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    end(request, undefined);
    done();
  });
}
