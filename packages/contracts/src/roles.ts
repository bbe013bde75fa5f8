/** The roles of the permission model (also the CHECK of role_assignments.role in migration 001). */
export const ROLES = ['owner', 'template-admin', 'org-admin', 'member'] as const;
export type Role = (typeof ROLES)[number];

/** Roles held in one organization only; `owner` is site-wide only; `template-admin` may be either. */
export const ORGANIZATION_ROLES: readonly Role[] = ['org-admin', 'member'];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
