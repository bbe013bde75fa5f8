import { after, before } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../../test/support/wait.js';

export type ExampleProcess = { lines: string[]; stderr: () => string; port: () => number };

/**
 * Runs a shipped example (`examples/<file>`) as its own process for a test file, on a free port: stdout collected as
 * lines, stderr as text, the port read from its "listening on <scheme>://127.0.0.1:<port>" line. Killed after.
 */
export function exampleProcess(file: string, env: Record<string, string> = {}): ExampleProcess {
  let child: ChildProcess | undefined;
  let stderr = '';
  let port = 0;
  const lines: string[] = [];
  before(async () => {
    const script = fileURLToPath(new URL(`../../../examples/${file}`, import.meta.url));
    child = spawn(process.execPath, [script], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    port = Number(await waitFor(() => /listening on [a-z]+:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)?.[1], { what: `${file} listening` }));
  });
  after(() => {
    child?.kill('SIGTERM');
  });
  return { lines, stderr: () => stderr, port: () => port };
}
