import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { REDIS_URL } from './env.js';
import { spawnService } from './processes.js';
import { waitFor } from './wait.js';

// Services as processes exporting their spans over OTLP/HTTP to a bare local receiver (issue 28): the end-to-end
// export test and the trace picture (npm run trace:picture) both use it.

export type OtlpExport = { path: string; contentType: string; body: Buffer };

/** An OTLP/HTTP receiver that keeps every request body and answers 200 at once. */
export async function startOtlpReceiver(): Promise<{ endpoint: string; exports: OtlpExport[]; close: () => void }> {
  const exports: OtlpExport[] = [];
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      exports.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' }).end(req.headers['content-type']?.includes('json') ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(receiver.address() as { port: number }).port}`, exports, close: () => receiver.close() };
}

/**
 * Starts the api, reconciler, a fast simulated provisioner, scheduler and notifier as processes, each exporting to
 * `endpoint` with the protocol given for it, and waits until the api is ready.
 */
export async function startTracedServices(options: { databaseUrl: string; queuePrefix: string; endpoint: string; apiPort: number; protocols: Record<string, string> }): Promise<ChildProcess[]> {
  const base = {
    DATABASE_URL: options.databaseUrl,
    REDIS_URL,
    WARMPOOL_QUEUE_PREFIX: options.queuePrefix,
    WARMPOOL_BULL_BOARD: 'false',
    LOG_LEVEL: 'silent',
    OTEL_EXPORTER_OTLP_ENDPOINT: options.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
  const extra: Record<string, Record<string, string>> = {
    api: { WARMPOOL_HTTP_PORT: String(options.apiPort) },
    scheduler: { WARMPOOL_RECONCILE_INTERVAL_MS: '1000' },
    'provisioner-sim': { SIM_BUILD_MS: '10', SIM_BUILD_JITTER_MS: '0', SIM_AGENT_READY_MS: '0' },
  };
  const children = Object.entries(options.protocols).map(([service, protocol]) => spawnService(service, { ...base, ...extra[service], OTEL_EXPORTER_OTLP_PROTOCOL: protocol }));
  await waitFor(
    () =>
      new Promise<boolean>((resolve) =>
        http.get({ host: '127.0.0.1', port: options.apiPort, path: '/readyz', agent: false }, (r) => (r.resume(), resolve(r.statusCode === 200))).on('error', () => resolve(false)),
      ),
    { timeoutMs: 60_000, intervalMs: 200, what: 'the api process to be ready' },
  );
  return children;
}

/** SIGTERM to each child, resolved when all have exited. */
export function stopServices(children: readonly ChildProcess[]): Promise<void> {
  return Promise.all(children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : (c.once('exit', () => resolve()), c.kill('SIGTERM')))))).then(() => undefined);
}
