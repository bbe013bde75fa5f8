import type pg from 'pg';

/** The site-wide reconciliation pause (SQL function `reconciliation_paused()`, migration 006). */
export async function isPaused(db: pg.Pool | pg.ClientBase): Promise<boolean> {
  const { rows } = await db.query<{ paused: boolean }>('SELECT reconciliation_paused() AS paused');
  return rows[0]?.paused ?? false;
}

export async function setPaused(db: pg.Pool | pg.ClientBase, paused: boolean): Promise<void> {
  await db.query(
    `INSERT INTO settings (key, value) VALUES ('reconciliation_paused', $1::jsonb)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [JSON.stringify(paused)],
  );
}
