import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Pool } from '@warmpool/db';
import { createLogger, type Logger } from '@warmpool/runtime';
import { runService, type ProcessHooks } from '../src/index.js';
import { useTestDatabase } from '../../../test/support/env.js';

const db = useTestDatabase({ migrate: false });

/** Hooks that record the exit code, the shutdown handler and every log line instead of touching the process. */
function fakeProcess(env: Record<string, string>) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const state: { exitCode?: number; shutdown?: () => Promise<void> } = {};
  const logger: Logger = createLogger('svc-test', { level: 'info', destination });
  const hooks: ProcessHooks = {
    env: { DATABASE_URL: db.url, ...env },
    exit: (code) => {
      state.exitCode = code;
    },
    onShutdown: (_logger, close) => {
      state.shutdown = close;
    },
    logger,
  };
  return { hooks, lines, state };
}

test('invalid configuration: one fatal line naming the variable, exit code 1, start never runs', async () => {
  const { hooks, lines, state } = fakeProcess({ WARMPOOL_WORKER_CONCURRENCY: 'many' });
  let started = false;
  await runService('svc', async () => {
    started = true;
    return { close: async () => undefined };
  }, hooks);
  assert.equal(started, false);
  assert.equal(state.exitCode, 1);
  assert.equal(state.shutdown, undefined);
  const fatal = lines.filter((l) => l.level === 60);
  assert.equal(fatal.length, 1);
  assert.equal(fatal[0]!.msg, 'svc failed to start');
  assert.match(JSON.stringify(fatal[0]!.err), /WARMPOOL_WORKER_CONCURRENCY/);
});

test('the pool is sized by the one database() call, migrated before start, and ended after the service closed', async () => {
  const { hooks, state } = fakeProcess({});
  const order: string[] = [];
  let pool: Pool | undefined;
  await runService('svc', async ({ database }) => {
    pool = await database(3);
    const migrated = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    assert.ok(migrated.rows[0]!.n > 0, 'migrations ran before start continued');
    return {
      close: async () => {
        order.push(pool!.ended ? 'service closed after the pool ended' : 'service closed');
      },
    };
  }, hooks);
  assert.equal(state.exitCode, undefined);
  assert.equal(pool!.options.max, 3);
  assert.equal(pool!.options.application_name, 'warmpool-svc');
  assert.ok(state.shutdown, 'a shutdown handler was installed');
  await state.shutdown();
  order.push(pool!.ended ? 'pool ended' : 'pool still open');
  assert.deepEqual(order, ['service closed', 'pool ended']);
});

test('a start that fails after opening the pool ends the pool and exits 1; a second pool is refused', async () => {
  const { hooks, lines, state } = fakeProcess({});
  let pool: Pool | undefined;
  await runService('svc', async ({ database }) => {
    pool = await database(2, { migrate: false });
    await database(2);
    return { close: async () => undefined };
  }, hooks);
  assert.equal(state.exitCode, 1);
  assert.equal(pool!.ended, true);
  const fatal = lines.find((l) => l.level === 60);
  assert.match(JSON.stringify(fatal?.err), /second database pool/);
});
