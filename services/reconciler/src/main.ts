import { runService } from '@warmpool/service';
import { reconcilerPoolSize, startReconciler } from './index.js';

// `node services/reconciler`: migrate (safe concurrently), then run the reconcile worker until SIGTERM/SIGINT.
await runService('reconciler', async ({ config, logger, healthPort, database }) => {
  const pool = await database(reconcilerPoolSize(config));
  const reconciler = await startReconciler({ config, logger, pool, healthPort });
  logger.info({ concurrency: config.workerConcurrency, queuePrefix: config.queuePrefix }, 'reconciler started');
  return reconciler;
});
