import { DomainError, roleScopeProblem, SYSTEM_USERNAME, type Role } from '@warmpool/contracts';
import { ensureUser, grantRole as storeRole, userExists, type Pool, type PoolClient } from '@warmpool/db';

/** Refuses the reserved system user, which never gets a role or a token. */
export function assertGrantableUsername(username: string): void {
  if (username === SYSTEM_USERNAME) throw new DomainError('validation_failed', `"${SYSTEM_USERNAME}" is the reserved system user`, [{ path: 'body.username', message: 'reserved' }]);
}

/** Refuses a scope that does not fit the role (org roles need an organization, owner is site-wide). */
export function assertRoleScope(role: Role, organizationId: string | null): void {
  const problem = roleScopeProblem(role, organizationId !== null);
  if (problem === 'needs-organization') throw new DomainError('validation_failed', `role ${role} needs an organization`, [{ path: 'body.organization', message: 'required for this role' }]);
  if (problem === 'site-wide-only') throw new DomainError('validation_failed', 'owner is a site-wide role', [{ path: 'body.organization', message: 'must be omitted for owner' }]);
}

/** Who receives a role: a user by name (created if needed) or an existing user by id. */
export type Grantee = { username: string } | { userId: string };

/**
 * The one door for granting a role (§7), site-wide (organizationId null) or in one organization; granting it again
 * changes nothing. A user named by `username` is created if needed; one named by `userId` must exist (not_found).
 * Neither may be the system user. The caller decided that the principal may grant it. Returns the user id.
 */
export async function grantUserRole(db: Pool | PoolClient, input: Grantee & { role: Role; organizationId: string | null }): Promise<string> {
  assertRoleScope(input.role, input.organizationId);
  const userId = await grantee(db, input);
  await storeRole(db, userId, input.role, input.organizationId);
  return userId;
}

async function grantee(db: Pool | PoolClient, who: Grantee): Promise<string> {
  if ('userId' in who) {
    if (!(await userExists(db, who.userId))) throw new DomainError('not_found', 'user not found');
    return who.userId;
  }
  assertGrantableUsername(who.username);
  const userId = await ensureUser(db, who.username);
  if (!userId) throw new DomainError('validation_failed', `"${who.username}" is a reserved system user`, [{ path: 'body.username', message: 'reserved' }]);
  return userId;
}
