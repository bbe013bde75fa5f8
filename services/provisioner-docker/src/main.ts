import { createLogger, healthPortFromEnv, loadConfig, onShutdown, startHealthServer } from '@warmpool/runtime';
import { loadDockerOptions, startDockerProvisioner } from './index.js';

const logger = createLogger('provisioner-docker');
try {
  const config = loadConfig();
  const options = loadDockerOptions();
  const healthPort = healthPortFromEnv();
  const service = await startDockerProvisioner({ config, options, logger });
  const server = healthPort === undefined ? undefined : await startHealthServer(healthPort, '0.0.0.0', service.health, logger);
  logger.info({ options, startup: service.startup }, 'Docker provisioner started');
  onShutdown(logger, async () => {
    server?.close();
    await service.close();
  });
} catch (err) {
  logger.fatal({ err: err instanceof Error ? err.message : err }, 'cannot start');
  process.exit(1);
}
