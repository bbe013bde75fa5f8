import { createPool, migrate } from '@warmpool/db';

import { createLogger, loadConfig, onShutdown, healthPortFromEnv } from '@warmpool/runtime';
import { startNotifier } from './index.js';

// `node services/notifier`: migrate (safe concurrently), then consume notification events until SIGTERM/SIGINT.
const logger = createLogger('notifier');
try {
  const config = loadConfig();
  const pool = createPool(config.databaseUrl, { max: config.workerConcurrency + 12, applicationName: 'warmpool-notifier' });
  await migrate(pool);
  const notifier = await startNotifier({ config, logger, pool, healthPort: healthPortFromEnv() });
  if (!config.webhookUrl) logger.warn('WARMPOOL_WEBHOOK_URL is not set: organizations without their own webhook URL get inbox notifications only');
  if (!config.webhookSecret) logger.warn('WARMPOOL_WEBHOOK_SECRET is not set: deliveries to organizations without their own secret are skipped');
  logger.info({ concurrency: config.workerConcurrency, queuePrefix: config.queuePrefix }, 'notifier started');
  onShutdown(logger, async () => {
    await notifier.close();
    await pool.end();
  });
} catch (err) {
  logger.fatal({ err }, 'notifier failed to start');
  process.exit(1);
}
