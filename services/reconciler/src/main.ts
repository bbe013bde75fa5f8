import { createPool, migrate } from '@warmpool/db';

import { createLogger, loadConfig, onShutdown, healthPortFromEnv } from '@warmpool/runtime';
import { startReconciler } from './index.js';

// `node services/reconciler`: migrate (safe concurrently), then run the reconcile worker until SIGTERM/SIGINT.
const logger = createLogger('reconciler');
try {
  const config = loadConfig();
  const pool = createPool(config.databaseUrl, { max: config.workerConcurrency + 4, applicationName: 'warmpool-reconciler' });
  await migrate(pool);
  const reconciler = await startReconciler({ config, logger, pool, healthPort: healthPortFromEnv() });
  logger.info({ concurrency: config.workerConcurrency, queuePrefix: config.queuePrefix }, 'reconciler started');
  onShutdown(logger, async () => {
    await reconciler.close();
    await pool.end();
  });
} catch (err) {
  logger.fatal({ err }, 'reconciler failed to start');
  process.exit(1);
}
