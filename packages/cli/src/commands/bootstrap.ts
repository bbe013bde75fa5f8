import { ROLES } from '@warmpool/contracts';
import {
  createApiToken,
  ensureOrganization as upsertOrganization,
  ensureUser,
  findOrganizationId,
  grantRole,
  InvalidOrganizationNameError,
  USERNAME_PATTERN,
  withTransaction,
  type Pool,
  type RoleName,
} from '@warmpool/db';
import { UsageError } from '../output.js';

export type Role = RoleName;

export function parseRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  return value as Role;
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
  if (options.user === 'prebuilds') throw new UsageError('"prebuilds" is the reserved system user');
  if ((options.role === 'org-admin' || options.role === 'member') && !options.org) throw new UsageError(`--org is required for role ${options.role}`);
  if (options.role === 'owner' && options.org) throw new UsageError('owner is a site-wide role: omit --org');
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
    const userId = await ensureUser(client, options.user);
    if (!userId) throw new UsageError(`${JSON.stringify(options.user)} is a reserved system user`);
    await grantRole(client, userId, options.role, organizationId);
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
