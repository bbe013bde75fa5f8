import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { ConfigError, createLogger, startMemoryTracing, startTracing, tracingSettings, withSpan } from '@warmpool/runtime';

const ROOT = join(import.meta.dirname, '..', '..');

describe('tracing settings (standard OTEL_* variables)', () => {
  it('is off without an endpoint, and when disabled even with one', () => {
    assert.deepEqual(tracingSettings('api', {}), { enabled: false, reason: 'no_endpoint' });
    assert.deepEqual(tracingSettings('api', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }), { enabled: false, reason: 'disabled' });
    assert.deepEqual(tracingSettings('api', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }), { enabled: false, reason: 'exporter_none' });
  });

  it('appends /v1/traces to the base endpoint, uses the traces endpoint as is, defaults to http/protobuf and parentbased_always_on', () => {
    assert.deepEqual(tracingSettings('reconciler', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }), {
      enabled: true,
      serviceName: 'warmpool-reconciler',
      url: 'http://c:4318/v1/traces',
      protocol: 'http/protobuf',
      sampler: { kind: 'parentbased_always_on' },
    });
    const s = tracingSettings('api', {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tempo:4318/custom',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'api-eu',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    assert.deepEqual(s, { enabled: true, serviceName: 'api-eu', url: 'https://tempo:4318/custom', protocol: 'http/json', sampler: { kind: 'parentbased_traceidratio', ratio: 0.25 } });
  });

  it('refuses what it cannot honour, naming the variable', () => {
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    assert.throws(() => tracingSettings('api', { ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), (e: Error) => e instanceof ConfigError && /OTEL_EXPORTER_OTLP_PROTOCOL/.test(e.message));
    assert.throws(() => tracingSettings('api', { ...base, OTEL_TRACES_SAMPLER: 'jaeger_remote' }), /OTEL_TRACES_SAMPLER/);
    assert.throws(() => tracingSettings('api', { ...base, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }), /OTEL_TRACES_SAMPLER_ARG/);
    assert.throws(() => tracingSettings('api', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'c:4318' }), /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/);
  });

  it('starts nothing without an endpoint', async () => {
    assert.equal(await startTracing('api', {}), undefined);
  });
});

describe('one @opentelemetry/api copy', () => {
  // Two copies register two globals: spans made through one are silently no-ops for the other's SDK.
  it('has exactly one installed copy in the workspace', () => {
    const found: string[] = [];
    const walk = (dir: string, depth: number) => {
      if (depth > 6 || !existsSync(dir)) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
        if (entry.isSymbolicLink()) continue; // workspace links point back into the tree, walked on their own
        const path = join(dir, entry.name);
        if (path.endsWith(join('@opentelemetry', 'api'))) found.push(path);
        else if (entry.name === 'node_modules' || dir.endsWith('node_modules') || entry.name.startsWith('@')) walk(path, depth + 1);
      }
    };
    for (const top of ['.', ...['packages', 'services'].flatMap((d) => readdirSync(join(ROOT, d)).map((n) => join(d, n)))]) walk(join(ROOT, top, 'node_modules'), 0);
    assert.deepEqual(found.map((p) => p.slice(ROOT.length + 1)), ['node_modules/@opentelemetry/api']);
  });
});

describe('log lines inside a span', () => {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  // An explicit level: the test runner sets LOG_LEVEL=silent for every file.
  const logger = createLogger('test', { destination, level: 'info' });
  let tracing: Awaited<ReturnType<typeof startMemoryTracing>> | undefined;
  after(() => tracing?.shutdown());

  it('carry no trace fields with tracing off', () => {
    logger.info('outside');
    assert.equal(lines.at(-1)!.trace_id, undefined);
  });

  it('carry the trace_id and span_id of the active span', async () => {
    tracing = await startMemoryTracing();
    await withSpan('work', {}, async () => {
      logger.info('inside');
    });
    const [span] = tracing.spans();
    assert.equal(span!.name, 'work');
    assert.equal(lines.at(-1)!.trace_id, span!.traceId);
    assert.equal(lines.at(-1)!.span_id, span!.spanId);
    logger.info('after');
    assert.equal(lines.at(-1)!.trace_id, undefined);
  });
});
