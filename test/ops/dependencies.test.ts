import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const KNIP = path.resolve('node_modules/knip/bin/knip.js');

/** Runs the lint's dependency check (knip with the repository's knip.jsonc) over a throw-away workspace. */
function check(files: Record<string, unknown>): { status: number | null; output: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'wp-deps-'));
  try {
    copyFileSync(path.resolve('knip.jsonc'), path.join(dir, 'knip.jsonc'));
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    }
    const run = spawnSync(process.execPath, [KNIP, '--no-progress'], { cwd: dir, encoding: 'utf8' });
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const workspace = (dependencies: Record<string, string>, source: string) => ({
  'package.json': { name: 'tree', private: true, type: 'module', workspaces: ['packages/*'] },
  'packages/a/package.json': { name: '@tree/a', type: 'module', dependencies },
  'packages/a/src/index.ts': source,
});

test('lint fails on a dependency a package declares but never imports, naming it', () => {
  const { status, output } = check(workspace({ 'left-pad': '1.3.0', 'is-number': '7.0.0' }, "import isNumber from 'is-number';\nexport const ok = isNumber(1);\n"));
  assert.equal(status, 1, output);
  assert.match(output, /Unused dependencies \(1\)/);
  assert.match(output, /left-pad\s+packages\/a\/package\.json/);
});

test('lint fails on an import of a package the importing package does not declare', () => {
  const { status, output } = check(workspace({}, "import isNumber from 'is-number';\nexport const ok = isNumber(1);\n"));
  assert.equal(status, 1, output);
  assert.match(output, /Unlisted dependencies \(1\)/);
  assert.match(output, /is-number\s+packages\/a\/src\/index\.ts/);
});

test('lint passes when declarations and imports agree', () => {
  const { status, output } = check(workspace({ 'is-number': '7.0.0' }, "import isNumber from 'is-number';\nexport const ok = isNumber(1);\n"));
  assert.equal(status, 0, output);
});
