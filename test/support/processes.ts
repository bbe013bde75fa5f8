import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/**
 * One service's own entry point (`services/<service>/src/main.ts`, which runs through `runService`) as a child
 * process, from source: what an orchestrator starts. `env` is added to this process's environment.
 */
export function spawnService(service: string, env: NodeJS.ProcessEnv, stdio: StdioOptions = 'ignore'): ChildProcess {
  return spawn(process.execPath, ['--conditions=development', '--import', 'tsx', `services/${service}/src/main.ts`], { env: { ...process.env, ...env }, stdio });
}
