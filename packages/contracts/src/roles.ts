/** The roles of the permission model (also the CHECK of role_assignments.role in migration 001). */
export const ROLES = ['owner', 'template-admin', 'org-admin', 'member'] as const;
export type Role = (typeof ROLES)[number];

/** Roles held in one organization only; `owner` is site-wide only; `template-admin` may be either. */
export const ORGANIZATION_ROLES: readonly Role[] = ['org-admin', 'member'];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The reserved system user that owns every prebuild; it never gets a role or a token. */
export const SYSTEM_USERNAME = 'prebuilds';

/**
 * Why `role` cannot be granted with (or without) an organization: org-admin and member need one, owner is
 * site-wide only; null when the scope fits. The API and the CLI word the answer for their own inputs.
 */
export function roleScopeProblem(role: Role, withOrganization: boolean): 'needs-organization' | 'site-wide-only' | null {
  if (ORGANIZATION_ROLES.includes(role) && !withOrganization) return 'needs-organization';
  if (role === 'owner' && withOrganization) return 'site-wide-only';
  return null;
}
