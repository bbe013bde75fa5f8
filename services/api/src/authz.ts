import type { Principal } from '@warmpool/db';

/** Every action the API authorizes. One table below says which role may do what, in which scope. */
export const ACTIONS = [
  'template.read',
  'template.write',
  'workspace.create',
  'workspace.read',
  'workspace.update',
  'workspace.delete',
  'prebuilt_workspace.delete',
  'prebuild.status.read',
  'prebuild.replay',
  'prebuild.operate',
  'reconciliation.pause',
  'token.create',
  'user.manage',
  'notification.manage',
] as const;
export type Action = (typeof ACTIONS)[number];

type Role = Principal['roles'][number]['role'];

// The permission table, written once. Scope comes from the role assignment: site-wide (organization NULL) or one
// organization. Template admins manage templates and prebuilds but may not start/stop them; members read their
// organization's pools (status, schedule preview, builds, notices, history) but never act on prebuilds and do not
// run replays (an analysis tool that reads weeks of demand history); owners can do everything.
const PERMISSIONS: Record<Role, ReadonlySet<Action>> = {
  owner: new Set<Action>([
    'template.read', 'template.write', 'workspace.create', 'workspace.read', 'workspace.update', 'workspace.delete', 'prebuilt_workspace.delete',
    'prebuild.status.read', 'prebuild.replay', 'prebuild.operate', 'reconciliation.pause', 'token.create', 'user.manage', 'notification.manage',
  ]),
  'template-admin': new Set<Action>(['template.read', 'template.write', 'workspace.create', 'prebuilt_workspace.delete', 'prebuild.status.read', 'prebuild.replay', 'prebuild.operate']),
  'org-admin': new Set<Action>(['template.read', 'workspace.create', 'workspace.read', 'workspace.update', 'workspace.delete', 'prebuild.status.read', 'prebuild.replay', 'token.create', 'user.manage']),
  member: new Set<Action>(['template.read', 'workspace.create', 'prebuild.status.read']),
};

/** Actions any principal may take on a workspace they own. */
const OWN_WORKSPACE: ReadonlySet<Action> = new Set<Action>(['workspace.read', 'workspace.update', 'workspace.delete']);

/** Whether the principal may take `action` on an object of `organizationId` (owned by `ownerId`, if a workspace). */
export function can(principal: Principal, action: Action, target: { organizationId: string | null; ownerId?: string }): boolean {
  if (target.ownerId !== undefined && target.ownerId === principal.userId && OWN_WORKSPACE.has(action) && seesOrganization(principal, target.organizationId)) return true;
  return principal.roles.some(
    (r) => PERMISSIONS[r.role].has(action) && (r.organizationId === null || (target.organizationId !== null && r.organizationId === target.organizationId)),
  );
}

/** Whether the principal has any role covering the organization; objects of other organizations answer 404. */
export function seesOrganization(principal: Principal, organizationId: string | null): boolean {
  return principal.roles.some((r) => r.organizationId === null || r.organizationId === organizationId);
}

/** The roles that grant an action (in some scope), for 403 messages that say what is needed. */
export function rolesAllowedTo(action: Action): Role[] {
  return (Object.keys(PERMISSIONS) as Role[]).filter((role) => PERMISSIONS[role].has(action));
}
