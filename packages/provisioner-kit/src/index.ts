export {
  startProvisioner,
  type BuildContext,
  type BuildOutcome,
  type Provisioner,
  type ProvisionerBackend,
  type ProvisionerOptions,
} from './provisioner.js';
export { Reporter, type ReporterOptions } from './reporter.js';
