import { runService } from '@warmpool/service';
import { loadSimOptions, startProvisionerSim } from './index.js';

// `node services/provisioner-sim`: no database; consumes build requests until SIGTERM/SIGINT.
await runService('provisioner-sim', async ({ config, logger }) => {
  const sim = loadSimOptions();
  const service = startProvisionerSim({ config, sim, logger });
  logger.info({ sim }, 'simulated provisioner started');
  return service;
});
