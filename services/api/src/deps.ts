import type { Registry } from 'prom-client';
import type { QueueSet } from '@warmpool/bus';
import type { Pool, Principal } from '@warmpool/db';
import type { OutboxRelay } from '@warmpool/operations';
import type { Config, Logger } from '@warmpool/runtime';
import type { ApiMetrics } from './metrics.js';

/**
 * What the API's plugins are given. Its own module (not app.ts) so that routes, the console and Bull Board import
 * it without importing the app that registers them.
 */
export type ApiDeps = {
  pool: Pool;
  queues: QueueSet;
  /** The producer connection, pinged by /readyz. */
  redis: { ping(): Promise<string> };
  relay: OutboxRelay;
  config: Config;
  logger: Logger;
  registry: Registry;
  metrics: ApiMetrics;
};

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook of the context the route lives in (auth.ts); absent on public routes. */
    principal: Principal;
  }
}
