import { createApiToken, type Pool } from '@warmpool/db';
import { UsageError } from '../output.js';

const ROLES = ['owner', 'template-admin', 'org-admin', 'member'] as const;
export type Role = (typeof ROLES)[number];

export function parseRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  return value as Role;
}

export async function ensureOrganization(pool: Pool, name: string, webhookUrl?: string): Promise<{ id: string; created: boolean }> {
  const { rows } = await pool.query<{ id: string; created: boolean }>(
    `INSERT INTO organizations (name, webhook_url) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET webhook_url = COALESCE(EXCLUDED.webhook_url, organizations.webhook_url)
     RETURNING id, (xmax = 0) AS created`,
    [name, webhookUrl ?? null],
  ).catch((err: Error) => {
    if (/organizations_name_check/.test(err.message)) throw new UsageError(`organization name ${JSON.stringify(name)}: use lowercase letters, digits, - and _ (max 63)`);
    throw err;
  });
  return rows[0]!;
}

export async function findOrganization(pool: Pool, name: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM organizations WHERE name = $1', [name]);
  if (!rows[0]) throw new UsageError(`organization ${JSON.stringify(name)} does not exist (create it with: warmpool org create ${name})`);
  return rows[0].id;
}

/**
 * Bootstrap: creates the user if needed, grants the role (site-wide for owner and site template admins, else in
 * --org), and issues a token whose secret is returned once.
 */
export async function createTokenFor(pool: Pool, options: { user: string; role: Role; org?: string; name: string }): Promise<string> {
  if ((options.role === 'org-admin' || options.role === 'member') && !options.org) throw new UsageError(`--org is required for role ${options.role}`);
  if (options.role === 'owner' && options.org) throw new UsageError('owner is a site-wide role: omit --org');
  if (options.user === 'prebuilds') throw new UsageError('"prebuilds" is the reserved system user');
  const organizationId = options.org ? (await ensureOrganization(pool, options.org)).id : null;
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO users (username) VALUES ($1) ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username RETURNING id`,
    [options.user],
  );
  const userId = rows[0]!.id;
  await pool.query(
    `INSERT INTO role_assignments (user_id, role, organization_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [userId, options.role, organizationId],
  );
  return createApiToken(pool, userId, options.name);
}
