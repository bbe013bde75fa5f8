import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';

/** API tokens are `wp_<43 base64url chars>`; only their SHA-256 is stored, so a database leak reveals no token. */
export function hashToken(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Issues a token for `userId` and returns its secret, which is never stored or shown again. */
export async function createApiToken(db: pg.Pool | pg.ClientBase, userId: string, name: string, expiresAt: Date | null = null): Promise<string> {
  const secret = `wp_${randomBytes(32).toString('base64url')}`;
  await db.query('INSERT INTO api_tokens (user_id, name, token_hash, expires_at) VALUES ($1, $2, $3, $4)', [userId, name, hashToken(secret), expiresAt]);
  return secret;
}

/** User names and template names, as the API and the CLI accept them (JSON-schema `pattern` strings). */
export const USERNAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$';
export const TEMPLATE_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

export type RoleName = 'owner' | 'template-admin' | 'org-admin' | 'member';

/**
 * The user named `username`, created if needed; undefined for the reserved system user, which never gets a role
 * or a token.
 */
export async function ensureUser(db: pg.Pool | pg.ClientBase, username: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (username) VALUES ($1) ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username
     WHERE NOT users.is_system RETURNING id`,
    [username],
  );
  return rows[0]?.id;
}

/** Grants a role, site-wide (organizationId null) or in one organization; granting it again changes nothing. */
export async function grantRole(db: pg.Pool | pg.ClientBase, userId: string, role: RoleName, organizationId: string | null): Promise<void> {
  await db.query('INSERT INTO role_assignments (user_id, role, organization_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [userId, role, organizationId]);
}

/** The id of a (non-system) user by name, or undefined. */
export async function findUserId(db: pg.Pool | pg.ClientBase, username: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM users WHERE username = $1 AND NOT is_system', [username]);
  return rows[0]?.id;
}

/** Sets (or with null clears) a user's e-mail address, where notices are mailed. False for unknown or system users. */
export async function setUserEmail(db: pg.Pool | pg.ClientBase, userId: string, email: string | null): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE users SET email = $2 WHERE id = $1 AND NOT is_system', [userId, email]);
  return (rowCount ?? 0) > 0;
}
