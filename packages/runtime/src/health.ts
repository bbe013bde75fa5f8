import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';

export type HealthCheck = () => Promise<{ ok: boolean; details: Record<string, unknown> }>;

/**
 * A tiny liveness endpoint (`GET /healthz`): 200 when `check` passes, 503 otherwise. Orchestrators restart a
 * service whose worker stopped consuming, e.g. one that failed to resume after a Redis restart (BEHAVIOUR.md §10).
 * With a registry it also serves the process's own metrics at `GET /metrics`.
 */
export async function startHealthServer(port: number, host: string, check: HealthCheck, logger: Logger, registry?: Registry): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (registry && req.method === 'GET' && path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => {
          logger.warn({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (req.method !== 'GET' || path !== '/healthz') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
      return;
    }
    check().then(
      ({ ok, details }) => res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok, ...details })),
      (err: unknown) => {
        logger.warn({ err }, 'health check failed');
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"ok":false}');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export type HealthEndpoint = { server: Server | undefined; close: () => Promise<void> };

/** The health server on `port` when one is configured (undefined = none); `close()` is safe either way. */
export async function serveHealth(port: number | undefined, host: string, check: HealthCheck, logger: Logger, registry?: Registry): Promise<HealthEndpoint> {
  const server = port === undefined ? undefined : await startHealthServer(port, host, check, logger, registry);
  return { server, close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())) };
}

/**
 * Liveness of a worker process: every worker runs, every listed connection is ready, the producer answers PING,
 * and (when given) the watched worker still takes jobs. Each Redis wait is capped at 1 s: a hung Redis fails the
 * probe instead of hanging it.
 */
export function workerLiveness(parts: {
  workers: readonly { isRunning(): boolean }[];
  connections: readonly { status: string }[];
  producer: { ping(): Promise<string> };
  progressing?: () => Promise<boolean>;
}): () => Promise<boolean> {
  const { workers, connections, producer, progressing } = parts;
  return async () =>
    workers.every((w) => w.isRunning()) &&
    connections.every((c) => c.status === 'ready') &&
    (await withTimeout(producer.ping().then((r) => r === 'PONG'), 1_000, false)) &&
    (progressing === undefined || (await withTimeout(progressing(), 1_000, false)));
}

/** Reads the optional WARMPOOL_HEALTH_PORT; undefined = no health server. Throws naming the variable. */
export function healthPortFromEnv(env: Record<string, string | undefined> = process.env): number | undefined {
  const raw = env.WARMPOOL_HEALTH_PORT;
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`WARMPOOL_HEALTH_PORT: must be an integer port 0-65535, got ${JSON.stringify(raw)}`);
  return port;
}

/** Resolves with the value, or with `fallback` if it takes longer than `ms` (a hung Redis must not hang the probe). */
export function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

/** The parts of a BullMQ Worker / Queue the progress watch needs (keeps this module free of bullmq types). */
type WorkerEvents = { on(event: 'active' | 'completed' | 'failed' | 'drained', listener: () => void): unknown };
type WaitingCounter = { getWaitingCount(): Promise<number> };

/**
 * Notices a worker that is "running" but no longer takes jobs (seen after Redis restarts, BEHAVIOUR.md §10): returns a
 * probe that fails when jobs are waiting and the worker has shown no activity for `stallMs`.
 */
export function watchWorkerProgress(worker: WorkerEvents, queue: WaitingCounter, stallMs = 60_000): () => Promise<boolean> {
  let lastActivity = Date.now();
  const touch = () => {
    lastActivity = Date.now();
  };
  for (const event of ['active', 'completed', 'failed', 'drained'] as const) worker.on(event, touch);
  return async () => Date.now() - lastActivity < stallMs || (await queue.getWaitingCount()) === 0;
}
