import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, createLogger, loadConfig } from '@warmpool/runtime';

test('REDIS_URL with one URL is a single server; the default is the local one', () => {
  assert.deepEqual(loadConfig({}).redis, { mode: 'single', url: 'redis://127.0.0.1:6379' });
  assert.deepEqual(loadConfig({ REDIS_URL: 'rediss://:pw@cache:6380/2' }).redis, { mode: 'single', url: 'rediss://:pw@cache:6380/2' });
});

test('a comma list in REDIS_URL or REDIS_CLUSTER_NODES is a cluster; credentials and TLS come from the seeds', () => {
  assert.deepEqual(loadConfig({ REDIS_URL: '127.0.0.1:7100, 127.0.0.1:7101' }).redis, {
    mode: 'cluster',
    nodes: [
      { host: '127.0.0.1', port: 7100 },
      { host: '127.0.0.1', port: 7101 },
    ],
    tls: false,
  });
  assert.deepEqual(loadConfig({ REDIS_CLUSTER_NODES: 'rediss://app:s%40cret@redis-0:6379,rediss://redis-1:6379' }).redis, {
    mode: 'cluster',
    nodes: [
      { host: 'redis-0', port: 6379 },
      { host: 'redis-1', port: 6379 },
    ],
    tls: true,
    username: 'app',
    password: 's@cret',
  });
  // One seed is enough for a cluster when it is said to be one; IPv6 in brackets.
  assert.deepEqual(loadConfig({ REDIS_CLUSTER_NODES: '[::1]:7100' }).redis, { mode: 'cluster', nodes: [{ host: '::1', port: 7100 }], tls: false });
});

test('a bad Redis address stops start-up with a message naming the variable and the entry, never the password', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL: must be a redis:\/\/ URL, or a comma-separated list/],
    [{ REDIS_URL: 'a:1,,b:2' }, /REDIS_URL: empty entry/],
    [{ REDIS_CLUSTER_NODES: 'a:1,b' }, /REDIS_CLUSTER_NODES: entry 2 "b" must name a host and a port/],
    [{ REDIS_CLUSTER_NODES: 'a:1,b:99999' }, /REDIS_CLUSTER_NODES: entry 2 "b:99999" must be host:port/],
    [{ REDIS_CLUSTER_NODES: 'http://a:1' }, /entry 1 "http:\/\/a:1" must use redis:\/\/ or rediss:\/\//],
    [{ REDIS_CLUSTER_NODES: 'redis://a:1/3' }, /only database 0/],
    [{ REDIS_CLUSTER_NODES: 'redis://a:1,rediss://b:2' }, /mix redis:\/\/ and rediss:\/\//],
    [{ REDIS_CLUSTER_NODES: 'redis://u:hunter2@a:1/3' }, /entry 1 "redis:\/\/\*\*\*@a:1\/3"/],
    [{ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'a:1' }, /REDIS_CLUSTER_NODES: set REDIS_URL or REDIS_CLUSTER_NODES, not both/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('hunter2'),
      `${JSON.stringify(env)} → ${String(message)}`,
    );
  }
  // Reported together with other bad variables.
  assert.throws(() => loadConfig({ REDIS_URL: 'nope', WARMPOOL_HTTP_PORT: 'x' }), /WARMPOOL_HTTP_PORT[\s\S]*REDIS_URL/);
});

test('the Redis password in a parsed cluster target is redacted from logs', () => {
  const lines: string[] = [];
  const logger = createLogger('test', { level: 'info', destination: { write: (line: string) => void lines.push(line) } });
  logger.info({ config: loadConfig({ REDIS_CLUSTER_NODES: 'redis://u:hunter2@a:1' }) }, 'config');
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes('hunter2'));
});
