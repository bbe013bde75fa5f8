import { runService } from '@warmpool/service';
import { SCHEDULER_POOL_SIZE, startScheduler } from './index.js';

// `node services/scheduler`: migrate (safe concurrently), then run the cluster-wide tick until SIGTERM/SIGINT.
await runService('scheduler', async ({ config, logger, healthPort, database }) => {
  const pool = await database(SCHEDULER_POOL_SIZE);
  const scheduler = await startScheduler({ config, logger, pool, healthPort });
  logger.info({ intervalMs: config.reconcileIntervalMs }, 'scheduler started');
  return scheduler;
});
