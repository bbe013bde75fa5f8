import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../../../test/support/env.js';

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'warmpool-cli-'));

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
});
after(async () => {
  await prefix.cleanup();
  await db.drop();
});

function warmpool(...args: string[]) {
  const res = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', 'packages/cli/src/main.ts', ...args], {
    env: { ...process.env, DATABASE_URL: db.url, REDIS_URL, WARMPOOL_QUEUE_PREFIX: prefix.prefix, LOG_LEVEL: 'silent' },
    encoding: 'utf8',
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}
const count = async (table: string) => (await db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;

test('org, token, import --activate, status and preview work end to end', async () => {
  assert.equal(warmpool('org', 'create', 'acme').code, 0);
  const token = warmpool('token', 'create', '--user', 'ops', '--role', 'owner', '--quiet');
  assert.equal(token.code, 0, token.stderr);
  assert.match(token.stdout.trim(), /^wp_[A-Za-z0-9_-]{43}$/);
  const stored = await db.pool.query('SELECT token_hash FROM api_tokens');
  assert.equal(stored.rows.length, 1);
  assert.ok(!JSON.stringify(stored.rows).includes(token.stdout.trim()), 'only a hash is stored');

  const imported = warmpool('import', 'examples/web-app.json', '--org', 'acme', '--template', 'web', '--activate', '--json');
  assert.equal(imported.code, 0, imported.stderr);
  const result = JSON.parse(imported.stdout);
  assert.equal(result.presets, 3);
  assert.equal(result.activated, true);

  const status = warmpool('status', '--json');
  assert.equal(status.code, 0, status.stderr);
  const presets = JSON.parse(status.stdout) as { preset: string; desiredNow: number; status: string; presetId: string }[];
  assert.deepEqual(presets.map((p) => p.preset).sort(), ['eu-large-on-demand', 'eu-small', 'us-large']);
  assert.equal(presets.find((p) => p.preset === 'eu-small')!.desiredNow, 3);
  assert.match(warmpool('status').stdout, /acme\/web\/eu-small\s+3\s+0\s+0\s+0\s+healthy/);

  const usLarge = presets.find((p) => p.preset === 'us-large')!;
  const preview = warmpool('preview', usLarge.presetId, '--days', '7', '--json');
  assert.equal(preview.code, 0, preview.stderr);
  const points = JSON.parse(preview.stdout) as { at: string; instances: number }[];
  assert.ok(points.length > 5, 'office hours and nights change the count within a week');
  assert.ok(points.every((p) => [0, 1, 4].includes(p.instances)));
});

test('an invalid manifest is refused with every offending path, exit code 2, and nothing stored', async () => {
  const file = path.join(tmp, 'bad.yaml');
  writeFileSync(
    file,
    ['name: broken', 'presets:', '  - name: a', '    prebuilds: { instances: -1, extra: true }', '  - name: a', '    description: ' + 'x'.repeat(129)].join('\n'),
  );
  const before = await count('template_versions');
  const res = warmpool('import', file, '--org', 'acme');
  assert.equal(res.code, 2);
  assert.match(res.stderr, /presets\[0\]\.prebuilds\.instances/);
  assert.match(res.stderr, /presets\[0\]\.prebuilds\.extra: unknown field/);
  assert.match(res.stderr, /presets\[1\]\.description/);
  assert.equal(await count('template_versions'), before);
  assert.equal(warmpool('import', 'examples/web-app.json', '--org', 'nope').code, 2, 'unknown organization');
  assert.equal(warmpool('import', path.join(tmp, 'missing.json'), '--org', 'acme').code, 2, 'unreadable file');
  const dup = warmpool('import', 'examples/web-app.json', '--org', 'acme', '--template', 'web');
  assert.equal(dup.code, 2, 'the same version name twice');
  assert.match(dup.stderr, /already exists/);
});

test('pause and resume flip the site-wide flag; bad configuration names the variable', async () => {
  assert.deepEqual(JSON.parse(warmpool('pause', '--json').stdout), { paused: true });
  assert.equal((await db.pool.query(`SELECT value FROM settings WHERE key = 'reconciliation_paused'`)).rows[0].value, true);
  assert.equal(warmpool('resume').code, 0);
  assert.equal((await db.pool.query(`SELECT value FROM settings WHERE key = 'reconciliation_paused'`)).rows[0].value, false);
  const res = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', 'packages/cli/src/main.ts', 'status'], {
    env: { ...process.env, DATABASE_URL: 'mysql://nope', LOG_LEVEL: 'silent' },
    encoding: 'utf8',
  });
  assert.equal(res.status, 2);
  assert.match(res.stderr, /DATABASE_URL/);
});
