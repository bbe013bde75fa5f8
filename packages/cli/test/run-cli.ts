import { spawnSync } from 'node:child_process';
import { after, before } from 'node:test';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../../../test/support/env.js';

export type CliResult = { code: number | null; stdout: string; stderr: string };

/** Runs `warmpool <args>` from the sources against a test database and queue prefix. */
export function runCli(target: { databaseUrl: string; queuePrefix: string }, args: string[], env: Record<string, string> = {}): CliResult {
  const res = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', 'packages/cli/src/main.ts', ...args], {
    env: { ...process.env, DATABASE_URL: target.databaseUrl, REDIS_URL, WARMPOOL_QUEUE_PREFIX: target.queuePrefix, LOG_LEVEL: 'silent', ...env },
    encoding: 'utf8',
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/**
 * A test file's own database and queue prefix (created before its tests, dropped after) and a `warmpool` runner
 * bound to them. Read `db` and `prefix` inside tests, once `before` has run.
 */
export function cliTestBed() {
  const bed = {
    db: undefined as unknown as TestDatabase,
    prefix: undefined as unknown as Awaited<ReturnType<typeof createTestQueuePrefix>>,
    warmpool: (...args: string[]) => runCli({ databaseUrl: bed.db.url, queuePrefix: bed.prefix.prefix }, args),
  };
  before(async () => {
    bed.db = await createTestDatabase();
    bed.prefix = await createTestQueuePrefix();
  });
  after(async () => {
    await bed.prefix?.cleanup();
    await bed.db?.drop();
  });
  return bed;
}
