import { createPool, type Pool } from '@warmpool/db';
import { loadConfig, type Config } from '@warmpool/runtime';

/** Runs a command with a database pool from the validated environment, always closing it. */
export async function withDatabase<T>(fn: (pool: Pool, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const pool = createPool(config.databaseUrl, { max: 4, applicationName: 'warmpool-cli' });
  try {
    return await fn(pool, config);
  } finally {
    await pool.end();
  }
}
