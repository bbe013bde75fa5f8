import type { FastifyInstance } from 'fastify';
import { createQueueSet, createRedis } from '@warmpool/bus';
import { createPool, type Pool } from '@warmpool/db';
import { createRegistry, OutboxRelay, registerPoolMetrics, registerQueueMetrics } from '@warmpool/pipeline';
import type { Config, Logger } from '@warmpool/runtime';
import { buildApp } from './app.js';
import { registerApiMetrics } from './metrics.js';

export { buildApp, type ApiDeps } from './app.js';
export { can, type Action } from './authz.js';

export type Api = { app: FastifyInstance; url: string; close: () => Promise<void> };

/** Starts the HTTP API with its outbox relay and metrics collector; `close()` stops everything gracefully. */
export async function startApi(options: { config: Config; logger: Logger; pool?: Pool; port?: number }): Promise<Api> {
  const { config, logger } = options;
  const pool = options.pool ?? createPool(config.databaseUrl, { max: 20, applicationName: 'warmpool-api' });
  const redis = createRedis(config.redisUrl, { role: 'producer', name: 'api' });
  const queues = createQueueSet(redis, config.queuePrefix);
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
      if (!options.pool) await pool.end();
    })());
  return { app, url, close };
}
