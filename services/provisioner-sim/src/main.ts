import { createLogger, loadConfig, onShutdown } from '@warmpool/runtime';
import { loadSimOptions, startProvisionerSim } from './index.js';

const logger = createLogger('provisioner-sim');
try {
  const config = loadConfig();
  const sim = loadSimOptions();
  const service = startProvisionerSim({ config, sim, logger });
  logger.info({ sim }, 'simulated provisioner started');
  onShutdown(logger, service.close);
} catch (err) {
  logger.fatal({ err }, 'cannot start');
  process.exit(1);
}
