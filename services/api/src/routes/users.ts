import { assertGrantableUsername, assertRoleScope, grantUserRole } from '@warmpool/operations';
import type { FastifyInstance } from 'fastify';
import { createApiToken, listNotifications, markNotificationRead, NotificationQueryError, userRoles, type Principal, type RoleName } from '@warmpool/db';
import type { ApiDeps } from '../deps.js';
import { can, canActFor, canGrant } from '../authz.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { findOrganization, typed } from './common.js';
import { createTokenSchema, createUserSchema, createUserTokenSchema, grantRoleSchema, inboxSchema, markReadSchema, meSchema } from './users.schemas.js';

/** Checks that the caller may grant `role` in `organization` (the permission table's `grants`); returns its id (null = site-wide). */
async function grantableScope(deps: ApiDeps, principal: Principal, role: RoleName, organization: string | undefined): Promise<string | null> {
  const organizationId = organization ? await findOrganization(deps, principal, organization) : null;
  assertRoleScope(role, organizationId);
  if (!canGrant(principal, role, organizationId)) throw forbidden(`grant the role ${role} ${organizationId === null ? 'site-wide' : 'in this organization'}`);
  return organizationId;
}

/**
 * A token for yourself, or for a user whose every role you outrank (the permission table's `actsFor`). Users you do
 * not manage in any of their organizations answer 404, like objects of other organizations; a user you see but do
 * not outrank (a peer, a template admin) answers 403.
 */
async function issueToken(deps: ApiDeps, principal: Principal, userId: string, name: string, expiresInSeconds: number | undefined): Promise<string> {
  if (userId !== principal.userId) {
    const roles = await userRoles(deps.pool, userId);
    const sees = (organizationId: string | null) => can(principal, 'token.create', { organizationId });
    if (!roles || !(sees(null) || roles.some((r) => sees(r.organizationId)))) throw notFound('user');
    if (!canActFor(principal, roles)) throw forbidden('issue a token for this user: it holds a role you do not outrank (a peer, a template admin or an owner)');
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
    await grantUserRole(deps.pool, { userId: request.params.id, role, organizationId });
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
