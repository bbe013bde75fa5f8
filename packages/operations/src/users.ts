import { DomainError, roleScopeProblem, SYSTEM_USERNAME, type Role } from '@warmpool/contracts';
import { ensureUser, grantRole as storeRole, type Pool, type PoolClient } from '@warmpool/db';

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

/**
 * Creates the user if needed and grants `role` (§7), site-wide (organizationId null) or in one organization; granting
 * it again changes nothing. The caller decided that the principal may grant it. Returns the user id.
 */
export async function grantUserRole(db: Pool | PoolClient, input: { username: string; role: Role; organizationId: string | null }): Promise<string> {
  assertGrantableUsername(input.username);
  assertRoleScope(input.role, input.organizationId);
  const userId = await ensureUser(db, input.username);
  if (!userId) throw new DomainError('validation_failed', `"${input.username}" is a reserved system user`, [{ path: 'body.username', message: 'reserved' }]);
  await storeRole(db, userId, input.role, input.organizationId);
  return userId;
}
