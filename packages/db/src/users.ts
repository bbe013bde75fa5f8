import type pg from 'pg';
import type { Role } from '@warmpool/contracts';

/** Kept for existing callers: the role type is `Role` of @warmpool/contracts. */
export type RoleName = Role;

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

/** True for an existing user other than the reserved system user. */
export async function userExists(db: pg.Pool | pg.ClientBase, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM users WHERE id = $1 AND NOT is_system', [userId]);
  return (rowCount ?? 0) > 0;
}

/**
 * The roles a (non-system) user holds, each site-wide (organizationId null) or in one organization, or undefined
 * when there is no such user. A user without any role answers [].
 */
export async function userRoles(db: pg.Pool | pg.ClientBase, userId: string): Promise<Principal['roles'] | undefined> {
  const { rows } = await db.query<{ role: RoleName | null; organization_id: string | null }>(
    `SELECT r.role, r.organization_id FROM users u LEFT JOIN role_assignments r ON r.user_id = u.id
     WHERE u.id = $1 AND NOT u.is_system`,
    [userId],
  );
  if (rows.length === 0) return undefined;
  return rows.flatMap((r) => (r.role === null ? [] : [{ role: r.role, organizationId: r.organization_id }]));
}

/** Grants a role, site-wide (organizationId null) or in one organization; granting it again changes nothing. */
export async function grantRole(db: pg.Pool | pg.ClientBase, userId: string, role: RoleName, organizationId: string | null): Promise<void> {
  await db.query('INSERT INTO role_assignments (user_id, role, organization_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [userId, role, organizationId]);
}

export type Principal = {
  userId: string;
  username: string;
  roles: { role: RoleName; organizationId: string | null }[];
  /** When the token stops working; a cached principal is refused from then on, whatever the cache's age. */
  expiresAt?: Date | null;
};

/**
 * The principal behind a bearer token (by its hash), or undefined for unknown or expired tokens. One statement that
 * also refreshes the token's `last_used_at`, at most once a minute (the `stale` test), so authentication costs one
 * round trip and writes a token's row at most once a minute (docs/DECISIONS.md, "last_used_at").
 */
export async function findPrincipalByTokenHash(db: pg.Pool | pg.ClientBase, tokenHash: Buffer): Promise<Principal | undefined> {
  const { rows } = await db.query<{ user_id: string; username: string; roles: Principal['roles']; expires_at: Date | null }>(
    `WITH token AS (
       SELECT t.id, t.expires_at, u.id AS user_id, u.username,
              (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute') AS stale
       FROM api_tokens t JOIN users u ON u.id = t.user_id AND NOT u.is_system
       WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > now())
     ), touched AS (
       UPDATE api_tokens a SET last_used_at = now() FROM token WHERE a.id = token.id AND token.stale RETURNING a.id
     )
     SELECT token.user_id, token.username, token.expires_at,
            COALESCE((SELECT json_agg(json_build_object('role', r.role, 'organizationId', r.organization_id))
                      FROM role_assignments r WHERE r.user_id = token.user_id), '[]') AS roles
     FROM token`,
    [tokenHash],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { userId: row.user_id, username: row.username, roles: row.roles, expiresAt: row.expires_at };
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
