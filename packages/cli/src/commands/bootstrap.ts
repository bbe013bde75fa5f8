import { DomainError, isRole, ROLES, roleScopeProblem, SYSTEM_USERNAME, type Role } from '@warmpool/contracts';
import { grantUserRole } from '@warmpool/operations';
import {
  createApiToken,
  ensureOrganization as upsertOrganization,
  findOrganizationId,
  InvalidOrganizationNameError,
  USERNAME_PATTERN,
  withTransaction,
  type Pool,
} from '@warmpool/db';
import { UsageError } from '../output.js';

export type { Role };

export function parseRole(value: string): Role {
  if (!isRole(value)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  return value;
}

export async function ensureOrganization(pool: Pool, name: string, webhookUrl?: string): Promise<{ id: string; created: boolean }> {
  return upsertOrganization(pool, name, webhookUrl).catch((err: unknown) => {
    if (err instanceof InvalidOrganizationNameError) throw new UsageError(err.message);
    throw err;
  });
}

export async function findOrganization(pool: Pool, name: string): Promise<string> {
  const id = await findOrganizationId(pool, name);
  if (!id) throw new UsageError(`organization ${JSON.stringify(name)} does not exist (create it with: warmpool org create ${name})`);
  return id;
}

const USERNAME = new RegExp(USERNAME_PATTERN);

export type TokenRequest = { user: string; role: Role; org?: string; name: string; expiresInDays?: number };

/** The checks that need no database: a bad request fails before anything is opened or written. */
export function checkTokenRequest(options: TokenRequest): void {
  if (!USERNAME.test(options.user)) throw new UsageError(`--user ${JSON.stringify(options.user)}: use lowercase letters, digits, ., - and _ (max 63)`);
  if (options.user === SYSTEM_USERNAME) throw new UsageError(`"${SYSTEM_USERNAME}" is the reserved system user`);
  const scope = roleScopeProblem(options.role, Boolean(options.org));
  if (scope === 'needs-organization') throw new UsageError(`--org is required for role ${options.role}`);
  if (scope === 'site-wide-only') throw new UsageError('owner is a site-wide role: omit --org');
}

/**
 * Bootstrap: creates the user if needed, grants the role (site-wide for owner and site template admins, else in
 * --org, created if needed), and issues a token whose secret is returned once. One transaction: a failure leaves
 * no user without a token and no half-granted role.
 */
export async function createTokenFor(pool: Pool, options: TokenRequest): Promise<string> {
  checkTokenRequest(options);
  const organizationId = options.org ? (await ensureOrganization(pool, options.org)).id : null;
  const expiresAt = options.expiresInDays === undefined ? null : new Date(Date.now() + options.expiresInDays * 86_400_000);
  return withTransaction(pool, async (client) => {
    const userId = await grantUserRole(client, { username: options.user, role: options.role, organizationId }).catch((err: unknown) => {
      throw err instanceof DomainError ? new UsageError(err.message) : err;
    });
    return createApiToken(client, userId, options.name, expiresAt);
  });
}

/** `--expires-in-days`: a whole number of days, 1 to 3650. */
export function parseExpiryDays(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!/^[0-9]+$/.test(value) || days < 1 || days > 3650) throw new UsageError('--expires-in-days must be a whole number of days from 1 to 3650');
  return days;
}
