// Development only (sources run through tsx): node 20 does not give worker threads the parent's --import loader,
// so this entry registers tsx and re-exports the TypeScript tasks. The build runs tasks.js directly.
import { register } from 'tsx/esm/api';

register();
const tasks = await import('./tasks.ts');

export const { replayTask, manifestTask, dryRunTask } = tasks;
