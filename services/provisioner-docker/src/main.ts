import { startHealthServer } from '@warmpool/runtime';
import { runService } from '@warmpool/service';
import { dockerPoolSize, loadDockerOptions, startDockerProvisioner } from './index.js';

// `node services/provisioner-docker`: read-only database lookups (no migrations), then build until SIGTERM/SIGINT.
await runService('provisioner-docker', async ({ config, logger, healthPort, database }) => {
  const options = loadDockerOptions();
  const pool = await database(dockerPoolSize(options), { migrate: false });
  const service = await startDockerProvisioner({ config, options, logger, pool });
  const server = healthPort === undefined ? undefined : await startHealthServer(healthPort, '0.0.0.0', service.health, logger);
  logger.info({ options, startup: service.startup }, 'Docker provisioner started');
  return {
    close: async () => {
      server?.close();
      await service.close();
    },
  };
});
