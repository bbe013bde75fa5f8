import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createPool } from '@warmpool/db';
import { createLogger } from '@warmpool/runtime';
import { startApi } from '@warmpool/api';
import { createTestDatabase, createTestQueuePrefix } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';

/**
 * Liveness and readiness: /healthz answers while the process is up; /readyz answers 503 (promptly, not after a
 * probe timeout) and names the dependency that does not answer.
 */

/** A local port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function probe(url: string, path: string) {
  const started = performance.now();
  const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, ms: performance.now() - started };
}

test('with Redis down, /healthz is 200 and /readyz is 503 naming Redis; queue errors do not flood stderr', async () => {
  // BullMQ prints connection errors of queues without an error listener straight to stderr.
  const printed: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix();
  const config = testConfig(db.url, prefix.prefix, { REDIS_URL: `redis://127.0.0.1:${await deadPort()}` });
  const api = await startApi({ config, logger: createLogger('test', { level: 'silent' }), pool: db.pool, port: 0 });
  try {
    assert.deepEqual((await probe(api.url, '/healthz')).body, { ok: true });
    const ready = await probe(api.url, '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { ok: false, postgres: true, redis: false });
    assert.ok(ready.ms < 8_000, `answered in ${Math.round(ready.ms)} ms`);
    assert.deepEqual(printed.filter((args) => String(args[0]).includes('ECONNREFUSED')), [], 'connection errors go to the structured log');
  } finally {
    console.error = consoleError;
    await Promise.race([api.close(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    await prefix.cleanup();
    await db.drop();
  }
});

test('with PostgreSQL unreachable, /readyz is 503 naming PostgreSQL; with both up it is 200', async () => {
  const db = await createTestDatabase();
  const prefix = await createTestQueuePrefix();
  const deadPool = createPool(`postgres://postgres@127.0.0.1:${await deadPort()}/nothing`, { max: 2, applicationName: 'warmpool-health-test' });
  deadPool.on('error', () => undefined);
  const logger = createLogger('test', { level: 'silent' });
  const down = await startApi({ config: testConfig(db.url, prefix.prefix), logger, pool: deadPool, port: 0 });
  const up = await startApi({ config: testConfig(db.url, prefix.prefix), logger, pool: db.pool, port: 0 });
  try {
    const ready = await probe(down.url, '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { ok: false, postgres: false, redis: true });
    assert.equal((await probe(down.url, '/healthz')).status, 200);
    const healthy = await probe(up.url, '/readyz');
    assert.equal(healthy.status, 200);
    assert.deepEqual(healthy.body, { ok: true, postgres: true, redis: true });
  } finally {
    await Promise.race([down.close(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    await up.close();
    await deadPool.end().catch(() => undefined);
    await prefix.cleanup();
    await db.drop();
  }
});
