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
