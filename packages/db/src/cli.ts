import { createPool } from './pool.js';
import { migrate } from './migrate.js';

// `npm run migrate`: applies pending migrations to DATABASE_URL and exits.
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/warmpool';
const pool = createPool(url, { max: 1, applicationName: 'warmpool-migrate' });
try {
  const applied = await migrate(pool);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema up to date');
} finally {
  await pool.end();
}
