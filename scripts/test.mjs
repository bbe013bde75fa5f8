#!/usr/bin/env node
// Runs every *.test.ts with node's test runner (TypeScript through tsx, workspace packages from source),
// then prints a plain "N passed, N failed" line. Optional arguments narrow the folders searched.
import { spawn } from 'node:child_process';
import { filesUnder } from './files.mjs';

const roots = process.argv.length > 2 ? process.argv.slice(2) : ['packages', 'services', 'test'];
const files = filesUnder(roots, (name) => name.endsWith('.test.ts'));

const child = spawn(
  process.execPath,
  [
    '--conditions=development',
    '--import',
    'tsx',
    '--test',
    // A test file whose handles keep it alive after its tests finished must not hang the run. On node 20 the timeout
    // applies to each file as a whole only (a file's own process ignores it: its tests have none unless they set
    // one): 5 min leaves room for a loaded 2-core machine (the slowest file takes ~20 s alone). Tests bound their own
    // waits (test/support/wait.ts: waitFor, within) so a hang fails naming what it waited for, well before this.
    '--test-force-exit',
    `--test-timeout=${process.env.WARMPOOL_TEST_TIMEOUT_MS ?? '300000'}`,
    `--test-concurrency=${process.env.WARMPOOL_TEST_CONCURRENCY ?? '2'}`,
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' } },
);

// The spec reporter's summary ("ℹ pass N", "ℹ fail N") is read from the stream we forward.
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
});
const status = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));

const count = (label) => Number(new RegExp(`^ℹ ${label} (\\d+)$`, 'm').exec(tail)?.[1] ?? 0);
const passed = count('pass');
let failed = count('fail') + count('cancelled');
if (passed + failed === 0 || (status !== 0 && failed === 0)) failed = Math.max(failed, 1); // ran nothing, or crashed
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || status !== 0 ? 1 : 0);
