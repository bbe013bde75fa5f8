export { runService, type ServiceContext, type RunningService, type ProcessHooks } from './run.js';
