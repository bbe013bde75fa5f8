import pg from 'pg';
import { operationOf, withDbSpan } from './tracing.js';

// Return bigint/int8 (counts) as JS numbers; our counts never approach 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(connectionString: string, options: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'warmpool',
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its connection (e.g. PostgreSQL restart) must not crash the process.
  pool.on('error', () => undefined);
  return traceStatements(pool);
}

/** A statement through the pool is a client span inside a recording trace (db/tracing.ts); callback calls pass through. */
function traceStatements(pool: pg.Pool): pg.Pool {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    if (typeof args.at(-1) === 'function') return query(...args);
    const first = args[0] as string | { text?: string };
    const operation = operationOf(typeof first === 'string' ? first : first?.text);
    return withDbSpan(`postgresql ${operation}`, { 'db.operation.name': operation }, () => query(...args) as Promise<unknown>);
  }) as typeof pool.query;
  return pool;
}

/** Runs `fn` in a transaction; rolls back on any error and rethrows it. */
export function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withDbSpan('postgresql transaction', { 'db.operation.name': 'TRANSACTION' }, () => transaction(pool, fn));
}

async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** True when PostgreSQL answers (readiness probes). */
export async function ping(db: pg.Pool): Promise<boolean> {
  return db.query('SELECT 1').then(() => true, () => false);
}
