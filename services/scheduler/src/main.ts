import { createPool, migrate } from '@warmpool/db';

import { createLogger, loadConfig, onShutdown, healthPortFromEnv } from '@warmpool/runtime';
import { startScheduler } from './index.js';

// `node services/scheduler`: migrate (safe concurrently), then run the cluster-wide tick until SIGTERM/SIGINT.
const logger = createLogger('scheduler');
try {
  const config = loadConfig();
  const pool = createPool(config.databaseUrl, { max: 2, applicationName: 'warmpool-scheduler' });
  await migrate(pool);
  const scheduler = await startScheduler({ config, logger, pool, healthPort: healthPortFromEnv() });
  logger.info({ intervalMs: config.reconcileIntervalMs }, 'scheduler started');
  onShutdown(logger, async () => {
    await scheduler.close();
    await pool.end();
  });
} catch (err) {
  logger.fatal({ err }, 'scheduler failed to start');
  process.exit(1);
}
