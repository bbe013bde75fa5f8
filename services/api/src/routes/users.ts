import { assertGrantableUsername, assertRoleScope, grantUserRole } from '@warmpool/operations';
import type { FastifyInstance } from 'fastify';
import { createApiToken, grantRole, listNotifications, markNotificationRead, NotificationQueryError, userExists, userRoleScopes, type Principal, type RoleName } from '@warmpool/db';
import type { ApiDeps } from '../deps.js';
import { can } from '../authz.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { authorize, findOrganization, typed } from './common.js';
import { createTokenSchema, createUserSchema, createUserTokenSchema, grantRoleSchema, inboxSchema, markReadSchema, meSchema } from './users.schemas.js';

/**
 * Checks that the caller may grant `role` in `organization` (owners: any role; org admins: org-admin and
 * member roles in their organization) and returns the organization id (null = site-wide).
 */
async function grantableScope(deps: ApiDeps, principal: Principal, role: RoleName, organization: string | undefined): Promise<string | null> {
  const organizationId = organization ? await findOrganization(deps, principal, organization) : null;
  assertRoleScope(role, organizationId);
  authorize(principal, 'user.manage', { organizationId });
  const onlyOrgAdmin = !principal.roles.some((r) => r.role === 'owner');
  if (onlyOrgAdmin && (role === 'owner' || role === 'template-admin' || organizationId === null)) throw forbidden(`grant the role ${role}`);
  return organizationId;
}

/**
 * A user the caller manages: owners see every user; others only users holding a role in an organization
 * they manage (anyone else answers 404, like objects of other organizations).
 */
async function managedUser(deps: ApiDeps, principal: Principal, userId: string, action: 'user.manage' | 'token.create'): Promise<{ organizationIds: (string | null)[] }> {
  const scopes = await userRoleScopes(deps.pool, userId);
  const isOwner = principal.roles.some((r) => r.role === 'owner');
  if (!scopes || (!isOwner && !scopes.some((o) => can(principal, action, { organizationId: o })))) throw notFound('user');
  return { organizationIds: scopes };
}

/** A token for yourself, or (owners, org admins) for a user whose every scope you manage. */
async function issueToken(deps: ApiDeps, principal: Principal, userId: string, name: string, expiresInSeconds: number | undefined): Promise<string> {
  if (userId !== principal.userId) {
    const { organizationIds } = await managedUser(deps, principal, userId, 'token.create');
    // A site-wide user (owner, site template admin) can only be given a token by an owner.
    for (const organizationId of organizationIds) authorize(principal, 'token.create', { organizationId });
  }
  const expiresAt = expiresInSeconds === undefined ? null : new Date(Date.now() + expiresInSeconds * 1000);
  return createApiToken(deps.pool, userId, name, expiresAt);
}

export async function userRoutes(fastify: FastifyInstance, deps: ApiDeps): Promise<void> {
  const app = typed(fastify);
  app.get('/users/me', { schema: meSchema }, async (request) => ({
    id: request.principal.userId,
    username: request.principal.username,
    roles: request.principal.roles,
  }));

  // Creates the user if needed and grants one role.
  app.post('/users', { schema: createUserSchema }, async (request, reply) => {
    const { username, role, organization } = request.body;
    assertGrantableUsername(username);
    const organizationId = await grantableScope(deps, request.principal, role, organization);
    const userId = await grantUserRole(deps.pool, { username, role, organizationId });
    return reply.status(201).send({ id: userId, username });
  });

  // Grants one more role to an existing user.
  app.post('/users/:id/roles', { schema: grantRoleSchema }, async (request, reply) => {
    const { role, organization } = request.body;
    const organizationId = await grantableScope(deps, request.principal, role, organization);
    if (!(await userExists(deps.pool, request.params.id))) throw notFound('user');
    await grantRole(deps.pool, request.params.id, role, organizationId);
    return reply.status(201).send({ user_id: request.params.id, role, organization_id: organizationId });
  });

  // A token for yourself (no user_id) or for a user you manage; the secret is in this answer only.
  app.post('/tokens', { schema: createTokenSchema }, async (request, reply) => {
    const userId = request.body.user_id ?? request.principal.userId;
    const token = await issueToken(deps, request.principal, userId, request.body.name, request.body.expires_in_seconds);
    return reply.status(201).send({ token, user_id: userId });
  });

  app.post('/users/:id/tokens', { schema: createUserTokenSchema }, async (request, reply) => {
    const token = await issueToken(deps, request.principal, request.params.id, request.body.name, request.body.expires_in_seconds);
    return reply.status(201).send({ token, user_id: request.params.id });
  });

  app.get('/users/me/notifications', { schema: inboxSchema }, async (request) => {
    try {
      return await listNotifications(deps.pool, request.principal.userId, { limit: Number(request.query.limit ?? 20), before: request.query.before });
    } catch (err) {
      if (err instanceof NotificationQueryError) throw new ApiError(400, 'validation_failed', err.message, [{ path: `querystring.${err.field}`, message: err.message }]);
      throw err;
    }
  });

  app.post('/users/me/notifications/:id/read', { schema: markReadSchema }, async (request) => {
    if (!(await markNotificationRead(deps.pool, request.principal.userId, request.params.id))) throw notFound('notification');
    return { read: true };
  });
}
