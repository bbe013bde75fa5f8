import type { FastifyInstance } from 'fastify';
import { createQueueSet, createRedis, QUEUES, type QueueSet } from '@warmpool/bus';
import type { Pool } from '@warmpool/db';
import { OutboxRelay, registerPoolMetrics, stopOffload } from '@warmpool/operations';
import type { Config, Logger } from '@warmpool/runtime';
import { buildApp } from './app.js';
import { registerApiMetrics } from './metrics.js';
import { createRegistry, registerQueueMetrics } from '@warmpool/runtime';

export { buildApp, type ApiDeps } from './app.js';
export { can, type Action } from './authz.js';

const QUEUE_ERROR_LOG_INTERVAL_MS = 30_000;

/**
 * Without an 'error' listener, BullMQ prints every connection error of every queue to stderr (a Redis outage
 * floods the output, outside the structured log). Log them instead, at most once per interval; /readyz reports
 * the outage meanwhile.
 */
function logQueueErrors(queues: QueueSet, logger: Logger): void {
  let lastLoggedAt = 0;
  let suppressed = 0;
  for (const key of Object.keys(QUEUES) as (keyof typeof QUEUES)[]) {
    queues[key].on('error', (err: Error) => {
      const now = Date.now();
      if (now - lastLoggedAt < QUEUE_ERROR_LOG_INTERVAL_MS) {
        suppressed++;
        return;
      }
      logger.warn({ err, queue: QUEUES[key], suppressed }, 'queue connection error');
      lastLoggedAt = now;
      suppressed = 0;
    });
  }
}

/**
 * Connections of one API process; concurrent requests beyond this wait for a connection. A claim holds one for a
 * single statement (1–3 ms of PostgreSQL time), so 20 carry more than a 2-core database can serve: raw claims through
 * pools of 4, 8 and 20 measured the same within noise (docs/BENCHMARKS.md), and more would only queue inside
 * PostgreSQL. Replicas × 20 plus the services' pools must stay below max_connections (or PgBouncer's pool size).
 */
export const API_POOL_SIZE = 20;

export type Api = { app: FastifyInstance; url: string; close: () => Promise<void> };

/** Starts the HTTP API with its outbox relay and metrics collector; `close()` stops everything gracefully. */
export async function startApi(options: { config: Config; logger: Logger; /** Owned by the caller, ended after `close()`. */ pool: Pool; port?: number }): Promise<Api> {
  const { config, logger, pool } = options;
  const redis = createRedis(config.redis, { role: 'producer', name: 'api' });
  const queues = createQueueSet(redis, config.queuePrefix);
  logQueueErrors(queues, logger);
  const relay = new OutboxRelay(pool, queues, logger.child({ component: 'outbox-relay' }));
  relay.start();
  const registry = createRegistry('api');
  const metrics = registerApiMetrics(registry);
  registerQueueMetrics(registry, queues);
  const poolMetrics = registerPoolMetrics(registry, pool, logger, config.metricsRefreshMs);
  poolMetrics.start();
  const app = await buildApp({ pool, queues, redis, relay, config, logger, registry, metrics });
  const url = await app.listen({ host: config.httpHost, port: options.port ?? config.httpPort });
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await app.close(); // stops accepting, lets in-flight requests finish
      poolMetrics.stop();
      await relay.stop();
      await relay.flush().catch(() => undefined);
      await queues.close();
      await redis.quit().catch(() => undefined);
      await stopOffload();
    })());
  return { app, url, close };
}
