import type pg from 'pg';
import { DomainError } from '@warmpool/contracts';

/** The id of the organization named `name`, or undefined. */
export async function findOrganizationId(db: pg.Pool | pg.ClientBase, name: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM organizations WHERE name = $1', [name]);
  return rows[0]?.id;
}

/** Thrown when a name breaks the organizations' name rule (lowercase letters, digits, - and _; max 63). */
export class InvalidOrganizationNameError extends DomainError {
  override name = 'InvalidOrganizationNameError';
  constructor(message: string) {
    super('validation_failed', message, [{ path: 'body.name', message: 'lowercase letters, digits, - and _ (max 63)' }]);
  }
}

/** Creates the organization, or updates its webhook URL when one is given; `created` tells which happened. */
export async function ensureOrganization(db: pg.Pool | pg.ClientBase, name: string, webhookUrl?: string): Promise<{ id: string; created: boolean }> {
  const { rows } = await db
    .query<{ id: string; created: boolean }>(
      `INSERT INTO organizations (name, webhook_url) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET webhook_url = COALESCE(EXCLUDED.webhook_url, organizations.webhook_url)
       RETURNING id, (xmax = 0) AS created`,
      [name, webhookUrl ?? null],
    )
    .catch((err: Error) => {
      if (/organizations_name_check/.test(err.message)) throw new InvalidOrganizationNameError(`organization name ${JSON.stringify(name)}: use lowercase letters, digits, - and _ (max 63)`);
      throw err;
    });
  return rows[0]!;
}
