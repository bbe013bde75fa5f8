import { createPool, migrate } from '@warmpool/db';
import { createLogger, loadConfig, onShutdown } from '@warmpool/runtime';
import { startApi } from './index.js';

const logger = createLogger('api');
try {
  const config = loadConfig();
  const pool = createPool(config.databaseUrl, { max: 20, applicationName: 'warmpool-api' });
  await migrate(pool);
  const api = await startApi({ config, logger, pool });
  logger.info({ url: api.url }, 'api listening');
  onShutdown(logger, async () => {
    await api.close();
    await pool.end();
  });
} catch (err) {
  logger.fatal({ err }, 'cannot start');
  process.exit(1);
}
