import { ROLES } from '@warmpool/contracts';
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
  'metrics.read',
  'queues.read',
  'queues.operate',
] as const;
export type Action = (typeof ACTIONS)[number];

type Role = Principal['roles'][number]['role'];

const ALL_ROLES: ReadonlySet<Role> = new Set<Role>(ROLES);

/**
 * What a role may do (`actions`), which roles it may grant (`grants`) and whose tokens it may issue (`actsFor`: only
 * users every one of whose roles it outranks, so a token never gives the caller more than it has), all in the scope
 * of the assignment.
 */
type Rights = { actions: ReadonlySet<Action>; grants: ReadonlySet<Role>; actsFor: ReadonlySet<Role> };

// The permission table, written once. Scope comes from the role assignment: site-wide (organization NULL) or one
// organization. Template admins manage templates and prebuilds but may not start/stop them; members read their
// organization's pools (status, schedule preview, builds, notices, history) but never act on prebuilds and do not
// run replays (an analysis tool that reads weeks of demand history); owners can do everything. Metrics and queues
// name every organization, so they need a site-wide assignment; site-wide template admins see the queues read-only.
// Org admins grant org-admin and member in their organization but act only for plain members: never for a peer,
// nor for a template admin, whose token would let them run manifests they may not import themselves.
const PERMISSIONS: Record<Role, Rights> = {
  owner: {
    actions: new Set<Action>(ACTIONS),
    grants: ALL_ROLES,
    actsFor: ALL_ROLES,
  },
  'template-admin': {
    actions: new Set<Action>(['template.read', 'template.write', 'workspace.create', 'prebuilt_workspace.delete', 'prebuild.status.read', 'prebuild.replay', 'prebuild.operate', 'queues.read']),
    grants: new Set(),
    actsFor: new Set(),
  },
  'org-admin': {
    actions: new Set<Action>(['template.read', 'workspace.create', 'workspace.read', 'workspace.update', 'workspace.delete', 'prebuild.status.read', 'prebuild.replay', 'token.create', 'user.manage']),
    grants: new Set<Role>(['org-admin', 'member']),
    actsFor: new Set<Role>(['member']),
  },
  member: {
    actions: new Set<Action>(['template.read', 'workspace.create', 'prebuild.status.read']),
    grants: new Set(),
    actsFor: new Set(),
  },
};

type Assignment = Principal['roles'][number];

/** Whether an assignment reaches objects of `organizationId` (null: site-wide objects, reached only site-wide). */
const covers = (assignment: Assignment, organizationId: string | null) =>
  assignment.organizationId === null || (organizationId !== null && assignment.organizationId === organizationId);

/** Actions any principal may take on a workspace they own. */
const OWN_WORKSPACE: ReadonlySet<Action> = new Set<Action>(['workspace.read', 'workspace.update', 'workspace.delete']);

/** Whether the principal may take `action` on an object of `organizationId` (owned by `ownerId`, if a workspace). */
export function can(principal: Principal, action: Action, target: { organizationId: string | null; ownerId?: string }): boolean {
  if (target.ownerId !== undefined && target.ownerId === principal.userId && OWN_WORKSPACE.has(action) && seesOrganization(principal, target.organizationId)) return true;
  return principal.roles.some((r) => PERMISSIONS[r.role].actions.has(action) && covers(r, target.organizationId));
}

/** Whether the principal may grant `role` in `organizationId` (null = site-wide). */
export function canGrant(principal: Principal, role: Role, organizationId: string | null): boolean {
  return principal.roles.some((r) => PERMISSIONS[r.role].grants.has(role) && covers(r, organizationId));
}

/** Whether the principal may issue a token for a user holding `roles`: it must outrank every one, in its scope. */
export function canActFor(principal: Principal, roles: readonly Assignment[]): boolean {
  return roles.every((target) => principal.roles.some((r) => PERMISSIONS[r.role].actsFor.has(target.role) && covers(r, target.organizationId)));
}

/** The organizations whose objects the principal sees: null for every one (a site-wide role), else their ids. */
export function visibleOrganizationIds(principal: Principal): string[] | null {
  if (principal.roles.some((r) => r.organizationId === null)) return null;
  return principal.roles.map((r) => r.organizationId).filter((id): id is string => id !== null);
}

/** Whether the principal has any role covering the organization; objects of other organizations answer 404. */
export function seesOrganization(principal: Principal, organizationId: string | null): boolean {
  return principal.roles.some((r) => r.organizationId === null || r.organizationId === organizationId);
}

/** The roles that grant an action (in some scope), for 403 messages that say what is needed. */
export function rolesAllowedTo(action: Action): Role[] {
  return (Object.keys(PERMISSIONS) as Role[]).filter((role) => PERMISSIONS[role].actions.has(action));
}
