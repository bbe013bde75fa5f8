import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, type Api } from '@warmpool/api';
import { createLogger } from '@warmpool/runtime';
import { createTestDatabase, createTestQueuePrefix, type TestDatabase } from '../../../test/support/env.js';
import { runCli } from './run-cli.js';
import { testConfig } from '../../../test/support/pipeline.js';
import { createTokenFor, parseExpiryDays, parseRole } from '../src/commands/bootstrap.js';
import { UsageError } from '../src/output.js';

/**
 * `warmpool token create` bootstraps the first owner: the token it prints must work against the HTTP API, and
 * bad input must exit with code 2 and store nothing.
 */

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let api: Api;

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  // No principal cache: a token's expiry is changed in SQL below, like a revocation.
  api = await startApi({ config: testConfig(db.url, prefix.prefix, { WARMPOOL_API_CACHE_MS: '0' }), logger: createLogger('test', { level: 'silent' }), pool: db.pool, port: 0 });
});
after(async () => {
  await api.close();
  await prefix.cleanup();
  await db.drop();
});

function warmpool(...args: string[]) {
  return warmpoolWith({}, ...args);
}

function warmpoolWith(env: Record<string, string>, ...args: string[]) {
  return runCli({ databaseUrl: db.url, queuePrefix: prefix.prefix }, args, env);
}

async function get(path: string, token: string) {
  const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const counts = async () =>
  (
    await db.pool.query<{ users: number; roles: number; tokens: number; orgs: number }>(
      `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM role_assignments)::int AS roles,
              (SELECT count(*) FROM api_tokens)::int AS tokens, (SELECT count(*) FROM organizations)::int AS orgs`,
    )
  ).rows[0]!;

test('the first owner token works against the API; a second role for the same user adds a role and a token', async () => {
  const owner = warmpool('token', 'create', '--user', 'first-owner', '--role', 'owner', '--quiet');
  assert.equal(owner.code, 0, owner.stderr);
  const token = owner.stdout.trim();
  const me = await get('/api/v1/users/me', token);
  assert.equal(me.status, 200);
  assert.equal(me.body.username, 'first-owner');
  assert.deepEqual(me.body.roles, [{ role: 'owner', organizationId: null }]);

  // The owner can act at once: the organization created by the CLI is visible through the API.
  const admin = warmpool('token', 'create', '--user', 'first-owner', '--role', 'template-admin', '--org', 'acme', '--name', 'ci');
  assert.equal(admin.code, 0, admin.stderr);
  assert.match(admin.stderr, /not shown again/);
  const templates = await get('/api/v1/organizations/acme/templates', admin.stdout.trim());
  assert.equal(templates.status, 200);
  const { rows } = await db.pool.query<{ n: number; roles: number }>(
    `SELECT count(DISTINCT u.id)::int AS n, (SELECT count(*) FROM role_assignments r JOIN users x ON x.id = r.user_id WHERE x.username = 'first-owner')::int AS roles
     FROM users u JOIN api_tokens t ON t.user_id = u.id WHERE u.username = 'first-owner'`,
  );
  assert.deepEqual(rows[0], { n: 1, roles: 2 });
});

test('a token with --expires-in-days expires; an expired token answers 401', async () => {
  const res = warmpool('token', 'create', '--user', 'temp', '--role', 'member', '--org', 'acme', '--expires-in-days', '30', '--quiet');
  assert.equal(res.code, 0, res.stderr);
  const { rows } = await db.pool.query<{ days: number }>(
    `SELECT round(extract(epoch FROM t.expires_at - now()) / 86400)::int AS days FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'temp'`,
  );
  assert.equal(rows[0]!.days, 30);
  const token = res.stdout.trim();
  assert.equal((await get('/api/v1/users/me', token)).status, 200);
  await db.pool.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE user_id = (SELECT id FROM users WHERE username = 'temp')`);
  assert.equal((await get('/api/v1/users/me', token)).status, 401);
});

test('bad input is refused with a reason and stores nothing; the command exits with code 2', async () => {
  const before = await counts();
  // The checks themselves, called directly (a process per case would be slow); one run below proves the exit code.
  const cases: [Parameters<typeof createTokenFor>[1], RegExp][] = [
    [{ user: 'Bad Name', role: 'owner', name: 'cli' }, /--user/],
    [{ user: 'prebuilds', role: 'owner', name: 'cli' }, /reserved/],
    [{ user: 'm1', role: 'member', name: 'cli' }, /--org is required/],
    [{ user: 'o1', role: 'owner', org: 'acme', name: 'cli' }, /site-wide/],
    [{ user: 'm2', role: 'member', org: 'Not An Org', name: 'cli' }, /organization name/],
  ];
  for (const [input, message] of cases) {
    await assert.rejects(createTokenFor(db.pool, input), (err: Error) => err instanceof UsageError && message.test(err.message), JSON.stringify(input));
  }
  for (const days of ['0', '1.5', '3651', 'soon']) assert.throws(() => parseExpiryDays(days), UsageError, days);
  assert.equal(parseExpiryDays('30'), 30);
  assert.throws(() => parseRole('admin'), UsageError);

  // Checked before the database is opened: exit 2 even though this database does not exist.
  const missingDb = db.url.replace(/\/[^/]+$/, '/warmpool_no_such_database');
  const res = warmpoolWith({ DATABASE_URL: missingDb }, 'token', 'create', '--user', 'Bad Name', '--role', 'owner');
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, /^error: --user/m);
  assert.equal(res.stdout, '', 'no token printed');
  // A valid request against a database that is not there: exit 1 with one line, no stack trace.
  const down = warmpoolWith({ DATABASE_URL: missingDb }, 'token', 'create', '--user', 'ok', '--role', 'owner');
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^error: database "warmpool_no_such_database" does not exist\n$/);
  assert.deepEqual(await counts(), before);
});
