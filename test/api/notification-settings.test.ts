import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { client, startTestApi, userWithRole } from '../support/api.js';

// Notification preferences, the site-wide switch and the e-mail address through the HTTP API.
let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;

before(async () => {
  env = await startTestApi();
  call = client(env.api.url);
});
after(async () => env.stop());

test('a user turns a kind off per channel and sets an address; an owner disables a kind site-wide; bad input is 400 naming the field', async () => {
  const owner = await userWithRole(env.db.pool, 'owner', null);
  const admin = await userWithRole(env.db.pool, 'template-admin', null);

  const initial = await call('GET', '/api/v1/users/me/notification-preferences', { token: admin.token });
  assert.equal(initial.status, 200);
  const all = initial.body.preferences as { kind: string; channel: string; enabled: boolean }[];
  assert.equal(all.length, 8, 'four kinds (rollout-stopped since issue 23) by two channels');
  assert.ok(all.every((p) => p.enabled), 'everything on by default');

  const off = await call('PUT', '/api/v1/users/me/notification-preferences/preset-hard-limited/email', { token: admin.token, body: { enabled: false } });
  assert.deepEqual(off.body, { kind: 'preset-hard-limited', channel: 'email', enabled: false });
  const after = (await call('GET', '/api/v1/users/me/notification-preferences', { token: admin.token })).body.preferences as typeof all;
  assert.deepEqual(after.filter((p) => !p.enabled).map((p) => `${p.kind}/${p.channel}`), ['preset-hard-limited/email']);
  const ownerView = (await call('GET', '/api/v1/users/me/notification-preferences', { token: owner.token })).body.preferences as typeof all;
  assert.ok(ownerView.every((p) => p.enabled), "one user's choice is theirs only");

  assert.equal((await call('PUT', '/api/v1/users/me/email', { token: admin.token, body: { email: 'admin@example.com' } })).status, 200);
  assert.equal((await env.db.pool.query('SELECT email FROM users WHERE id = $1', [admin.userId])).rows[0].email, 'admin@example.com');

  const disabled = await call('PUT', '/api/v1/notification-kinds/resource-replacements', { token: owner.token, body: { disabled: true } });
  assert.equal(disabled.status, 200);
  assert.equal(disabled.body.disabled, true);
  assert.equal(typeof disabled.body.updatedBy, 'string');
  assert.deepEqual((await call('GET', '/api/v1/users/me/notification-preferences', { token: admin.token })).body.siteDisabled, ['resource-replacements']);
  assert.equal((await call('PUT', '/api/v1/notification-kinds/resource-replacements', { token: admin.token, body: { disabled: false } })).status, 403);

  const bad: [string, string, unknown, string][] = [
    ['PUT', '/api/v1/users/me/notification-preferences/no-such-kind/email', { enabled: false }, 'params.kind'],
    ['PUT', '/api/v1/users/me/notification-preferences/preset-hard-limited/pigeon', { enabled: false }, 'params.channel'],
    ['PUT', '/api/v1/users/me/notification-preferences/preset-hard-limited/email', { enabled: 'no' }, 'body.enabled'],
    ['PUT', '/api/v1/users/me/notification-preferences/preset-hard-limited/email', { enabled: true, extra: 1 }, 'body.extra'],
    ['PUT', '/api/v1/users/me/email', { email: 'not an address' }, 'body.email'],
    ['PUT', '/api/v1/notification-kinds/nope', { disabled: true }, 'params.kind'],
    ['PUT', '/api/v1/notification-kinds/preset-hard-limited', {}, 'body.disabled'],
  ];
  for (const [method, path, body, field] of bad) {
    const res = await call(method, path, { token: owner.token, body });
    assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
    assert.ok(res.body.details!.some((d) => d.path === field), `${field} named in ${JSON.stringify(res.body.details)}`);
  }
  const kinds = (await call('GET', '/api/v1/notification-kinds', { token: admin.token })).body as unknown as { kind: string; disabled: boolean }[];
  assert.deepEqual(kinds.map((k) => [k.kind, k.disabled]), [['preset-hard-limited', false], ['preset-validation-failed', false], ['resource-replacements', true], ['rollout-stopped', false]], 'nothing half-written by refused requests');
});
