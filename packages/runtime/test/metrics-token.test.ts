import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '@warmpool/runtime';

test('WARMPOOL_METRICS_TOKEN: optional; a short or spaced value stops start-up naming the variable, not the value', () => {
  assert.equal(loadConfig({}).metricsToken, undefined);
  assert.equal(loadConfig({ WARMPOOL_METRICS_TOKEN: 'a'.repeat(24) }).metricsToken, 'a'.repeat(24));
  for (const bad of ['short-token-1234', 'twenty-four characters with spaces']) {
    assert.throws(
      () => loadConfig({ WARMPOOL_METRICS_TOKEN: bad }),
      (err: unknown) => err instanceof ConfigError && err.message.includes('WARMPOOL_METRICS_TOKEN') && !err.message.includes(bad),
    );
  }
});
