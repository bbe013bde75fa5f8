import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, createLogger, loadConfig } from '@warmpool/runtime';

function capture() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

test('logs never carry tokens, secrets, signatures, cookies or connection strings', () => {
  const { lines, destination } = capture();
  const logger = createLogger('test', { level: 'info', destination });
  logger.info(
    {
      token: 'wp_secret-token',
      req: { headers: { authorization: 'Bearer wp_secret-token', cookie: 'session=abc' } },
      headers: { 'webhook-signature': 'v1,deadbeef', authorization: 'Bearer x' },
      webhookSecrets: ['whsec-123'],
      smtp: { host: 'mail', auth: { user: 'u', pass: 'smtp-pass-1' } },
      config: { databaseUrl: 'postgres://user:pw@db/warmpool', secret: 's3cr3t' },
      presetId: 'kept',
    },
    'request',
  );
  const line = lines.join('');
  for (const leaked of ['wp_secret-token', 'session=abc', 'deadbeef', 'whsec-123', 'smtp-pass-1', 'pw@db', 's3cr3t']) assert.ok(!line.includes(leaked), leaked);
  const parsed = JSON.parse(line);
  assert.equal(parsed.presetId, 'kept');
  assert.equal(parsed.service, 'test');
  assert.equal(parsed.token, '[redacted]');
});

test('configuration defaults match BEHAVIOUR.md §8, and every bad variable is named', () => {
  const config = loadConfig({});
  assert.equal(config.reconcileIntervalMs, 15_000);
  assert.equal(config.backoffIntervalMs, 60_000);
  assert.equal(config.backoffLookbackMs, 3_600_000);
  assert.equal(config.failureHardLimit, 3);
  assert.equal(config.maxInflightPrebuildBuilds, 50);
  assert.equal(config.maxBodyBytes, 1024 * 1024);
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'mysql://x', WARMPOOL_FAILURE_HARD_LIMIT: '-1', WARMPOOL_HTTP_PORT: 'eighty', LOG_LEVEL: 'loud' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      ['DATABASE_URL', 'WARMPOOL_FAILURE_HARD_LIMIT', 'WARMPOOL_HTTP_PORT', 'LOG_LEVEL'].every((name) => err.message.includes(name)),
  );
  assert.equal(loadConfig({ WARMPOOL_FAILURE_HARD_LIMIT: '0' }).failureHardLimit, 0, '0 disables the limit');
  assert.equal(loadConfig({ WARMPOOL_BULL_BOARD: 'false' }).bullBoard, false);
});

test('webhook secrets and SMTP settings are validated at start, naming the variable to fix', () => {
  const whsec = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  assert.deepEqual(loadConfig({ WARMPOOL_WEBHOOK_SECRET: whsec, WARMPOOL_WEBHOOK_SECRET_PREVIOUS: 'an-older-secret-of-16+' }).webhookSecrets, [whsec, 'an-older-secret-of-16+']);
  assert.deepEqual(loadConfig({}).webhookSecrets, []);
  assert.equal(loadConfig({}).smtp, undefined, 'no host: no e-mail');
  const rejects = (env: Record<string, string>, variable: string, pattern: RegExp) =>
    assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && err.message.includes(variable) && pattern.test(err.message), variable);
  rejects({ WARMPOOL_WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, 'WARMPOOL_WEBHOOK_SECRET', /24 to 64 bytes/);
  rejects({ WARMPOOL_WEBHOOK_SECRET: 'short' }, 'WARMPOOL_WEBHOOK_SECRET', /16 characters/);
  rejects({ WARMPOOL_WEBHOOK_SECRET_PREVIOUS: 'an-older-secret-of-16+' }, 'WARMPOOL_WEBHOOK_SECRET_PREVIOUS', /needs WARMPOOL_WEBHOOK_SECRET/);
  rejects({ WARMPOOL_SMTP_HOST: 'mail.example.com' }, 'WARMPOOL_SMTP_FROM', /required/);
  rejects({ WARMPOOL_SMTP_HOST: 'mail.example.com', WARMPOOL_SMTP_FROM: 'not an address' }, 'WARMPOOL_SMTP_FROM', /must be an address/);
  rejects({ WARMPOOL_SMTP_HOST: 'mail.example.com', WARMPOOL_SMTP_FROM: 'w@example.com', WARMPOOL_SMTP_USER: 'u' }, 'WARMPOOL_SMTP_PASSWORD', /go together/);
  rejects({ WARMPOOL_SMTP_HOST: 'mail.example.com', WARMPOOL_SMTP_FROM: 'w@example.com', WARMPOOL_SMTP_TLS: 'ssl' }, 'WARMPOOL_SMTP_TLS', /starttls/);
  rejects({ WARMPOOL_SMTP_HOST: 'mail.example.com', WARMPOOL_SMTP_FROM: 'w@example.com', WARMPOOL_SMTP_PORT: '0' }, 'WARMPOOL_SMTP_PORT', /1/);
  rejects(
    { WARMPOOL_SMTP_HOST: 'mail.example.com', WARMPOOL_SMTP_FROM: 'w@example.com', WARMPOOL_SMTP_TLS: 'none', WARMPOOL_SMTP_USER: 'u', WARMPOOL_SMTP_PASSWORD: 'p' },
    'WARMPOOL_SMTP_TLS',
    /clear text/,
  );
  const smtp = loadConfig({ WARMPOOL_SMTP_HOST: 'mail.example.com', WARMPOOL_SMTP_FROM: 'Warmpool <w@example.com>', WARMPOOL_SMTP_TLS: 'tls', WARMPOOL_SMTP_USER: 'u', WARMPOOL_SMTP_PASSWORD: 'p' }).smtp;
  assert.deepEqual(smtp, { host: 'mail.example.com', port: 465, tls: 'tls', auth: { user: 'u', pass: 'p' }, from: 'Warmpool <w@example.com>', timeoutMs: 10_000, attempts: 6 });
  assert.equal(loadConfig({ WARMPOOL_SMTP_HOST: '127.0.0.1', WARMPOOL_SMTP_FROM: 'w@example.com' }).smtp?.port, 587, 'starttls by default');
});
