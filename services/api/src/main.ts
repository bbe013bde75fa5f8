import { runService } from '@warmpool/service';
import { API_POOL_SIZE, startApi } from './index.js';

// `node services/api`: migrate (safe concurrently), then serve HTTP until SIGTERM/SIGINT.
await runService('api', async ({ config, logger, database }) => {
  const pool = await database(API_POOL_SIZE);
  const api = await startApi({ config, logger, pool });
  logger.info({ url: api.url }, 'api listening');
  return api;
});
