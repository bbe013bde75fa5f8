import type { Logger } from 'pino';

/**
 * Runs `close` once on SIGINT/SIGTERM, then exits. A second signal, or a close that takes longer than
 * `timeoutMs`, exits immediately with status 1 so an orchestrator never waits forever.
 */
export function onShutdown(logger: Logger, close: () => Promise<void>, timeoutMs = 30_000): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
