import pg from 'pg';

/**
 * Creates database `name` through the admin connection `adminUrl`; an existing one is dropped first unless `keep`
 * (scripts such as the demo use this for a fresh state). Returns whether the database was (re)created.
 */
export async function recreateDatabase(adminUrl: string, name: string, options: { keep?: boolean } = {}): Promise<boolean> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)}: lowercase letters, digits and _ only`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = ((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
    if (exists && options.keep) return false;
    if (exists) await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    return true;
  } finally {
    await admin.end();
  }
}
