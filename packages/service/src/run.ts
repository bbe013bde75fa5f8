import { createPool, migrate, type Pool } from '@warmpool/db';
import { createLogger, healthPortFromEnv, loadConfig, onShutdown, startTracing, type Config, type Logger, type Tracing } from '@warmpool/runtime';

export type ServiceContext = {
  config: Config;
  logger: Logger;
  /** `WARMPOOL_HEALTH_PORT`, validated; undefined = no health server. */
  healthPort: number | undefined;
  /**
   * Opens the service's one PostgreSQL pool with `size` connections (the only place a service's pool is sized) and
   * applies pending migrations first (safe concurrently) unless `migrate: false`. The pool is ended after the
   * service has closed.
   */
  database: (size: number, options?: { migrate?: boolean }) => Promise<Pool>;
};

export type RunningService = { close: () => Promise<void> };

export type ProcessHooks = {
  env?: Record<string, string | undefined>;
  /** Defaults to process.exit (tests replace it). */
  exit?: (code: number) => void;
  /** Defaults to runtime's onShutdown: SIGINT/SIGTERM close once, then exit. */
  onShutdown?: (logger: Logger, close: () => Promise<void>) => void;
  logger?: Logger;
};

/**
 * The one start-up of every service process (`services/*\/src/main.ts`): configuration, tracing (only when an OTLP
 * endpoint is set: `startTracing`), logger, pool, migrations, `start`, graceful shutdown (the service closes first,
 * then its pool, then pending spans are flushed), and on any start-up error one fatal log line and exit code 1.
 * `start` wires the service and returns what closes it.
 */
export async function runService(name: string, start: (ctx: ServiceContext) => Promise<RunningService>, hooks: ProcessHooks = {}): Promise<void> {
  const logger = hooks.logger ?? createLogger(name);
  let pool: Pool | undefined;
  let tracing: Tracing | undefined;
  try {
    const env = hooks.env ?? process.env;
    const config = loadConfig(env);
    tracing = await startTracing(name, env);
    if (tracing) logger.info('tracing on: spans are exported over OTLP');
    const database = async (size: number, options: { migrate?: boolean } = {}): Promise<Pool> => {
      if (pool) throw new Error(`${name} asked for a second database pool: a service has one, sized once`);
      pool = createPool(config.databaseUrl, { max: size, applicationName: `warmpool-${name}` });
      if (options.migrate ?? true) await migrate(pool);
      return pool;
    };
    const service = await start({ config, logger, healthPort: healthPortFromEnv(env), database });
    (hooks.onShutdown ?? onShutdown)(logger, async () => {
      await service.close();
      await pool?.end();
      await tracing?.shutdown().catch((err: unknown) => logger.warn({ err }, 'flushing spans failed'));
    });
  } catch (err) {
    logger.fatal({ err }, `${name} failed to start`);
    await pool?.end().catch(() => undefined);
    await tracing?.shutdown().catch(() => undefined);
    (hooks.exit ?? process.exit)(1);
  }
}
