import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const CONFIG = path.resolve('.dependency-cruiser.cjs');
const DEPCRUISE = path.resolve('node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

/** Runs the lint's cycle rule (dependency-cruiser with the repository's configuration) over a throw-away tree. */
function check(modules: Record<string, string>): { status: number | null; output: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'wp-cycles-'));
  try {
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }));
    for (const [name, text] of Object.entries(modules)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
    const run = spawnSync(process.execPath, [DEPCRUISE, '--config', CONFIG, '--output-type', 'err', 'src'], { cwd: dir, encoding: 'utf8' });
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the cycle rule fails on a cycle of type-only imports (which ESLint import-x/no-cycle skips) and names its modules', () => {
  const { status, output } = check({
    'src/app.ts': "import type { Route } from './routes/a.js';\nimport { route } from './routes/a.js';\nexport type Deps = { routes: Route[] };\nexport const app = [route];\n",
    'src/routes/a.ts': "import type { Deps } from '../app.js';\nexport type Route = (deps: Deps) => void;\nexport const route: Route = () => undefined;\n",
  });
  assert.notEqual(status, 0, output);
  assert.match(output, /no-circular/);
  assert.match(output, /src\/routes\/a\.ts/);
  assert.match(output, /src\/app\.ts/);
});

test('the cycle rule passes when the shared type lives in a module of its own', () => {
  const { status, output } = check({
    'src/types.ts': 'export type Deps = { name: string };\n',
    'src/app.ts': "import type { Deps } from './types.js';\nimport { route } from './routes/a.js';\nexport const app = (deps: Deps) => route(deps);\n",
    'src/routes/a.ts': "import type { Deps } from '../types.js';\nexport const route = (deps: Deps) => deps.name;\n",
  });
  assert.equal(status, 0, output);
  assert.match(output, /no dependency violations found \(3 modules/);
});
