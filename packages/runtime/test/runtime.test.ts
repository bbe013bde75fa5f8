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
      headers: { 'x-warmpool-signature': 'v1=deadbeef', authorization: 'Bearer x' },
      webhookSecret: 'whsec-123',
      config: { databaseUrl: 'postgres://user:pw@db/warmpool', secret: 's3cr3t' },
      presetId: 'kept',
    },
    'request',
  );
  const line = lines.join('');
  for (const leaked of ['wp_secret-token', 'session=abc', 'deadbeef', 'whsec-123', 'pw@db', 's3cr3t']) assert.ok(!line.includes(leaked), leaked);
  const parsed = JSON.parse(line);
  assert.equal(parsed.presetId, 'kept');
  assert.equal(parsed.service, 'test');
  assert.equal(parsed.token, '[redacted]');
});

test('configuration defaults match SPEC §8, and every bad variable is named', () => {
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
