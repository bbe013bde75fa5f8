#!/usr/bin/env node
// Runs every *.test.ts with node's test runner (TypeScript through tsx, workspace packages from source),
// then prints a plain "N passed, N failed" line. Optional arguments narrow the folders searched.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const roots = process.argv.length > 2 ? process.argv.slice(2) : ['packages', 'services', 'test'];
const files = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) walk(full);
    else if (entry.endsWith('.test.ts')) files.push(full);
  }
};
for (const root of roots) walk(root);
files.sort();

// A file of this run's own: parallel runs must not read each other's report.
const tap = path.join(os.tmpdir(), `warmpool-test-${process.pid}-${Date.now()}.tap`);
const result = spawnSync(
  process.execPath,
  [
    '--conditions=development',
    '--import',
    'tsx',
    '--test',
    '--test-force-exit',
    `--test-timeout=${process.env.WARMPOOL_TEST_TIMEOUT_MS ?? '120000'}`,
    `--test-concurrency=${process.env.WARMPOOL_TEST_CONCURRENCY ?? '2'}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' } },
);

let out = '';
try {
  out = readFileSync(tap, 'utf8');
} catch {
  // no report at all: counted as a failure below
}
const passed = Number(/^# pass (\d+)$/m.exec(out)?.[1] ?? 0);
let failed = Number(/^# fail (\d+)$/m.exec(out)?.[1] ?? (out ? 0 : 1));
rmSync(tap, { force: true });
if (passed + failed === 0) failed = 1; // a run that ran nothing is not a pass
if (result.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || result.status !== 0 ? 1 : 0);
