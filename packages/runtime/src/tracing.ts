import { hostname } from 'node:os';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, isSpanContextValid, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ConfigError } from './config.js';

// Only the API is imported statically (the SDK import above is a type): with no endpoint set the SDK is never loaded, and every span below is the
// API's no-op (no allocation beyond the call, nothing exported).

export type SamplerSetting =
  | { kind: 'always_on' | 'always_off' | 'parentbased_always_on' | 'parentbased_always_off' }
  | { kind: 'traceidratio' | 'parentbased_traceidratio'; ratio: number };

export type TracingSettings =
  | { enabled: false; reason: 'disabled' | 'no_endpoint' | 'exporter_none' }
  | { enabled: true; serviceName: string; url: string; protocol: 'http/json' | 'http/protobuf'; sampler: SamplerSetting };

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/**
 * Reads the standard OpenTelemetry variables. Tracing is on only when an OTLP endpoint is set and OTEL_SDK_DISABLED
 * is not true; a value we cannot honour (grpc, an unknown sampler) is a ConfigError naming the variable, so a
 * mistyped setting fails at start-up instead of silently exporting nothing.
 */
export function tracingSettings(service: string, env: Record<string, string | undefined>): TracingSettings {
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  if (value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return { enabled: false, reason: 'disabled' };
  const exporter = value('OTEL_TRACES_EXPORTER');
  if (exporter === 'none') return { enabled: false, reason: 'exporter_none' };
  if (exporter && exporter !== 'otlp') throw new ConfigError(`OTEL_TRACES_EXPORTER: only otlp or none are supported (got ${exporter})`);

  const tracesEndpoint = value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = value('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (!tracesEndpoint && !baseEndpoint) return { enabled: false, reason: 'no_endpoint' };
  // The signal-specific variable is used as is; the base one gets the signal's path appended (OTLP exporter spec).
  const url = tracesEndpoint ?? `${baseEndpoint!.replace(/\/+$/, '')}/v1/traces`;
  const urlVariable = tracesEndpoint ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw new ConfigError(`${urlVariable}: must be an http:// or https:// URL`);

  const protocolVariable = value('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = value(protocolVariable) ?? 'http/protobuf';
  if (protocol !== 'http/json' && protocol !== 'http/protobuf') {
    throw new ConfigError(`${protocolVariable}: must be http/protobuf or http/json (got ${protocol}; grpc is not supported)`);
  }

  const samplerName = value('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on';
  if (!(SAMPLERS as readonly string[]).includes(samplerName)) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER: must be one of ${SAMPLERS.join(', ')} (got ${samplerName})`);
  }
  let sampler: SamplerSetting;
  if (samplerName === 'traceidratio' || samplerName === 'parentbased_traceidratio') {
    const arg = value('OTEL_TRACES_SAMPLER_ARG');
    const ratio = arg === undefined ? 1 : Number(arg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1');
    sampler = { kind: samplerName, ratio };
  } else {
    sampler = { kind: samplerName as Exclude<SamplerSetting['kind'], 'traceidratio' | 'parentbased_traceidratio'> };
  }
  return { enabled: true, serviceName: value('OTEL_SERVICE_NAME') ?? `warmpool-${service}`, url, protocol, sampler };
}

export type Tracing = {
  /** Flushes pending spans and unregisters the global provider (a later start in the same process works). */
  shutdown: () => Promise<void>;
};

export type FinishedSpan = {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  serviceName: string;
  attributes: Attributes;
  links: Link[];
  status: SpanStatusCode;
  /** Epoch milliseconds and milliseconds (fractional). */
  startMs: number;
  durationMs: number;
};

/**
 * Starts the SDK when `tracingSettings` says so and returns what stops it; undefined (nothing loaded, nothing
 * started) otherwise. The SDK modules are imported here, lazily, so a process without an endpoint never loads them.
 */
export async function startTracing(service: string, env: Record<string, string | undefined>): Promise<Tracing | undefined> {
  const settings = tracingSettings(service, env);
  if (!settings.enabled) return undefined;
  const exporter =
    settings.protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url: settings.url })
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url: settings.url });
  const base = await import('@opentelemetry/sdk-trace-base');
  return register(settings.serviceName, settings.sampler, new base.BatchSpanProcessor(exporter));
}

/**
 * Tests: every span of this process (whatever service it plays) is kept in memory, sampled always. Spans name their
 * service through the `warmpool.service` attribute set by `serviceSpan` callers, since one process hosts several.
 */
export async function startMemoryTracing(serviceName = 'warmpool-test'): Promise<Tracing & { spans: () => FinishedSpan[]; reset: () => void }> {
  const base = await import('@opentelemetry/sdk-trace-base');
  const exporter = new base.InMemorySpanExporter();
  const tracing = await register(serviceName, { kind: 'always_on' }, new base.SimpleSpanProcessor(exporter));
  return {
    ...tracing,
    reset: () => exporter.reset(),
    spans: () =>
      exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        kind: s.kind,
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        parentSpanId: s.parentSpanContext?.spanId,
        serviceName: String(s.resource.attributes['service.name']),
        attributes: s.attributes,
        links: s.links,
        status: s.status.code,
        startMs: s.startTime[0] * 1e3 + s.startTime[1] / 1e6,
        durationMs: s.duration[0] * 1e3 + s.duration[1] / 1e6,
      })),
  };
}

async function register(serviceName: string, samplerSetting: SamplerSetting, processor: SpanProcessor): Promise<Tracing> {
  const [base, node, resources] = await Promise.all([import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/sdk-trace-node'), import('@opentelemetry/resources')]);
  const ratio = 'ratio' in samplerSetting ? samplerSetting.ratio : 1;
  const root = {
    always_on: () => new base.AlwaysOnSampler(),
    always_off: () => new base.AlwaysOffSampler(),
    traceidratio: () => new base.TraceIdRatioBasedSampler(ratio),
  };
  const sampler = samplerSetting.kind.startsWith('parentbased_')
    ? new base.ParentBasedSampler({ root: root[samplerSetting.kind.slice('parentbased_'.length) as keyof typeof root]() })
    : root[samplerSetting.kind as keyof typeof root]();
  const provider = new node.NodeTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': serviceName, 'service.namespace': 'warmpool', 'service.instance.id': `${hostname()}:${process.pid}` }),
    sampler,
    spanProcessors: [processor],
  });
  provider.register();
  return {
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

const tracer = () => trace.getTracer('warmpool');

/**
 * Runs `fn` inside a new active span that ends when `fn` settles; a throw marks the span as an error (the message
 * only: error objects may carry request data). Attribute values must never hold secrets.
 */
export function withSpan<T>(name: string, options: { attributes?: Attributes; kind?: SpanKind; links?: Link[]; parent?: Context; root?: boolean }, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.root ? ROOT_CONTEXT : (options.parent ?? context.active());
  return tracer().startActiveSpan(name, { attributes: options.attributes, kind: options.kind, links: options.links, root: options.root }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** A span the caller ends (for work that is not one awaited call, e.g. one span per published row). */
export function startSpan(name: string, options: { attributes?: Attributes; kind?: SpanKind; links?: Link[] }, parent: Context = context.active()): Span {
  return tracer().startSpan(name, options, parent);
}

/** Runs `fn` with `span` active (callback-style hooks: everything `fn` starts inherits it). */
export function runWithSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** The W3C `traceparent` naming `span`, or undefined when it is not recording. */
export function traceparentOf(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}

/** The W3C `traceparent` of the active span, or undefined when none is recording (stored with outbox rows and jobs). */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  if (!span || !span.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** The context a stored `traceparent` continues (ROOT when absent or unreadable). */
export function contextFromTraceparent(traceparent: string | undefined | null): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** A link to the span a stored `traceparent` names, for work it caused but does not belong to (ticks, batches). */
export function linkFromTraceparent(traceparent: string | undefined | null): Link | undefined {
  const spanContext = trace.getSpanContext(contextFromTraceparent(traceparent));
  return spanContext && isSpanContextValid(spanContext) ? { context: spanContext } : undefined;
}

/** pino mixin: the active span's ids, so a log line leads to its trace. Empty (and cheap) with no active span. */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

export { SpanKind, SpanStatusCode, type Span, type Attributes, type Link, type Context };
