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

test('replay: current policy and a proposed one from a file, per hour; bad input exits 2 naming the field', async () => {
  assert.equal(warmpool('org', 'create', 'replay-org').code, 0);
  assert.equal(warmpool('import', 'examples/web-app.json', '--org', 'replay-org', '--template', 'replay-web', '--activate').code, 0);
  const { rows } = await db.pool.query<{ id: string }>(`SELECT p.id FROM presets p JOIN template_versions v ON v.id = p.template_version_id JOIN templates t ON t.id = v.template_id
     WHERE p.name = 'eu-small' AND t.name = 'replay-web'`);
  const presetId = rows[0]!.id;
  // Two days of one request every 15 minutes.
  await db.pool.query(
    `INSERT INTO demand_events (preset_id, build_id, hit, requested_at)
     SELECT $1, gen_random_uuid(), true, date_trunc('hour', now()) - make_interval(mins => m * 15 + 1) FROM generate_series(0, 191) m`,
    [presetId],
  );
  const current = warmpool('replay', presetId, '--days', '1', '--json');
  assert.equal(current.code, 0, current.stderr);
  const result = JSON.parse(current.stdout) as { policy: string; hours: { desired: number }[]; totals: { requests: number; hits: number } };
  assert.deepEqual([result.policy, result.hours.length, result.totals.requests, result.totals.hits], ['current', 24, 96, 96]);
  assert.ok(result.hours.every((h) => h.desired === 3));

  const policy = path.join(tmp, 'replay-policy.yaml');
  writeFileSync(policy, 'instances: 0\nautoscaling:\n  expression: "claims_60m >= 2 ? 2 : 1"\n');
  const proposed = warmpool('replay', presetId, '--days', '1', '--policy', policy);
  assert.equal(proposed.code, 0, proposed.stderr);
  assert.match(proposed.stdout, /proposed policy/);
  assert.match(proposed.stdout, /replayed: 96 requests/);

  writeFileSync(policy, 'autoscaling:\n  expression: "claims_61m"\n');
  const bad = warmpool('replay', presetId, '--policy', policy);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /prebuilds\.autoscaling\.expression: unknown variable or function "claims_61m"/);
  assert.equal(warmpool('replay', presetId, '--days', '0').code, 2);
});
