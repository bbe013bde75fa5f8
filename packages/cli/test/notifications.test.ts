import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureOrganization, createTokenFor } from '../src/commands/bootstrap.js';
import { finishRotation, parseChannel, parseKind, parseOnOff, rotateSecret, setChatWebhook, setSiteWide, setUserPreference, userPreferences, kindSettings } from '../src/commands/notifications.js';
import { UsageError } from '../src/output.js';
import { cliTestBed } from './run-cli.js';

// Spawning the CLI costs seconds on a loaded machine: the commands' functions are tested in process, and one
// spawned run per command family checks the wiring.
const bed = cliTestBed();
const { warmpool } = bed;

const org = async () =>
  (await bed.db.pool.query<{ webhook_secret: string | null; webhook_secret_previous: string | null; chat_webhook_url: string | null }>(`SELECT webhook_secret, webhook_secret_previous, chat_webhook_url FROM organizations WHERE name = 'acme'`)).rows[0]!;
const usage = (pattern: RegExp) => (err: unknown) => err instanceof UsageError && pattern.test(err.message);

test('org rotate-secret starts and finishes a rollover; chat-webhook sets and removes the chat URL', async () => {
  const pool = bed.db.pool;
  await ensureOrganization(pool, 'acme');
  await rotateSecret(pool, 'acme', 'the-first-secret-0123');
  const rotated = warmpool('org', 'rotate-secret', 'acme');
  assert.equal(rotated.code, 0, rotated.stderr);
  const generated = rotated.stdout.trim();
  assert.match(generated, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.deepEqual(await org(), { webhook_secret: generated, webhook_secret_previous: 'the-first-secret-0123', chat_webhook_url: null });
  await finishRotation(pool, 'acme');
  assert.equal((await org()).webhook_secret_previous, null);

  await assert.rejects(rotateSecret(pool, 'acme', 'short'), usage(/--secret: must be at least 16 characters/));
  assert.equal((await org()).webhook_secret, generated, 'nothing written');
  await assert.rejects(rotateSecret(pool, 'nope', undefined), usage(/does not exist/));

  await setChatWebhook(pool, 'acme', 'http://127.0.0.1:9/slack');
  assert.equal((await org()).chat_webhook_url, 'http://127.0.0.1:9/slack');
  await setChatWebhook(pool, 'acme', null);
  assert.equal((await org()).chat_webhook_url, null);
  await assert.rejects(setChatWebhook(pool, 'acme', 'ftp://x'), usage(/http\(s\) URL/));
});

test('notifications set/list per user and disable/enable site-wide; bad kinds, channels and states are usage errors', async () => {
  const pool = bed.db.pool;
  await createTokenFor(pool, { user: 'alice', role: 'owner', name: 'cli', email: 'alice@example.com' });
  assert.equal((await pool.query(`SELECT email FROM users WHERE username = 'alice'`)).rows[0].email, 'alice@example.com');
  await assert.rejects(createTokenFor(pool, { user: 'bob', role: 'owner', name: 'cli', email: 'not-an-address' }), usage(/--email/));

  await setUserPreference(pool, 'alice', 'resource-replacements', 'email', false);
  await setSiteWide(pool, 'preset-hard-limited', true);
  const preferences = await userPreferences(pool, 'alice');
  assert.equal(preferences.length, 8, 'four kinds by two channels');
  assert.deepEqual(preferences.filter((p) => !p.enabled).map((p) => `${p.kind}/${p.channel}`), ['resource-replacements/email']);
  assert.deepEqual((await kindSettings(pool)).filter((k) => k.disabled).map((k) => k.kind), ['preset-hard-limited']);
  const table = warmpool('notifications', 'list', '--user', 'alice');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /preset-hard-limited\s+email\s+on\s+disabled/);
  assert.match(table.stdout, /resource-replacements\s+email\s+off\s+on/);
  await setSiteWide(pool, 'preset-hard-limited', false);
  assert.equal((await pool.query(`SELECT disabled FROM notification_kind_settings WHERE kind = 'preset-hard-limited'`)).rows[0].disabled, false);

  assert.throws(() => parseKind('no-such-kind'), usage(/^kind must be one of preset-hard-limited, preset-validation-failed, rollout-stopped, resource-replacements$/));
  assert.throws(() => parseChannel('pigeon'), usage(/^channel must be one of email, webhook$/));
  assert.throws(() => parseOnOff('maybe'), usage(/^state must be on or off$/));
  await assert.rejects(setUserPreference(pool, 'nobody', 'resource-replacements', 'email', false), usage(/user "nobody" does not exist/));
  const bad = warmpool('notifications', 'disable', 'no-such-kind');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: kind must be one of/);
});
