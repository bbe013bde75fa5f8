import { ROLES } from '@warmpool/contracts';
import { assertGrantableUsername, assertRoleScope, grantUserRole } from '@warmpool/operations';
import type { FastifyInstance } from 'fastify';
import {
  createApiToken,
  grantRole,
  listNotifications,
  markNotificationRead,
  NotificationQueryError,
  USERNAME_PATTERN,
  userExists,
  userRoleScopes,
  type Principal,
  type RoleName,
} from '@warmpool/db';
import type { ApiDeps } from '../deps.js';
import { can } from '../authz.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { authorize, errorSchema, findOrganization, uuidParam } from './common.js';

type Role = RoleName;

export async function userRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const meSchema = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      username: { type: 'string' },
      roles: { type: 'array', items: { type: 'object', properties: { role: { type: 'string' }, organizationId: { type: ['string', 'null'] } } } },
    },
  };
  app.get('/users/me', { schema: { response: { 200: meSchema, '4xx': errorSchema } } }, async (request) => ({
    id: request.principal.userId,
    username: request.principal.username,
    roles: request.principal.roles,
  }));

  const roleProperties = {
    role: { type: 'string', enum: [...ROLES] },
    organization: { type: 'string', minLength: 1, maxLength: 63 },
  };
  const tokenResponse = { 201: { type: 'object', properties: { token: { type: 'string' }, user_id: { type: 'string' } } }, '4xx': errorSchema };

  /**
   * Checks that the caller may grant `role` in `organization` (owners: any role; org admins: org-admin and
   * member roles in their organization) and returns the organization id (null = site-wide).
   */
  async function grantableScope(principal: Principal, role: Role, organization: string | undefined): Promise<string | null> {
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
  async function managedUser(principal: Principal, userId: string, action: 'user.manage' | 'token.create'): Promise<{ organizationIds: (string | null)[] }> {
    const scopes = await userRoleScopes(deps.pool, userId);
    const isOwner = principal.roles.some((r) => r.role === 'owner');
    if (!scopes || (!isOwner && !scopes.some((o) => can(principal, action, { organizationId: o })))) throw notFound('user');
    return { organizationIds: scopes };
  }

  /** A token for yourself, or (owners, org admins) for a user whose every scope you manage. */
  async function issueToken(principal: Principal, userId: string, name: string, expiresInSeconds: number | undefined): Promise<string> {
    if (userId !== principal.userId) {
      const { organizationIds } = await managedUser(principal, userId, 'token.create');
      // A site-wide user (owner, site template admin) can only be given a token by an owner.
      for (const organizationId of organizationIds) authorize(principal, 'token.create', { organizationId });
    }
    const expiresAt = expiresInSeconds === undefined ? null : new Date(Date.now() + expiresInSeconds * 1000);
    return createApiToken(deps.pool, userId, name, expiresAt);
  }

  // Creates the user if needed and grants one role.
  app.post<{ Body: { username: string; role: Role; organization?: string } }>(
    '/users',
    {
      schema: {
        body: {
          type: 'object',
          properties: { username: { type: 'string', pattern: USERNAME_PATTERN }, ...roleProperties },
          required: ['username', 'role'],
          additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { id: { type: 'string' }, username: { type: 'string' } } }, '4xx': errorSchema },
      },
    },
    async (request, reply) => {
      const { username, role, organization } = request.body;
      assertGrantableUsername(username);
      const organizationId = await grantableScope(request.principal, role, organization);
      const userId = await grantUserRole(deps.pool, { username, role, organizationId });
      return reply.status(201).send({ id: userId, username });
    },
  );

  // Grants one more role to an existing user.
  app.post<{ Params: { id: string }; Body: { role: Role; organization?: string } }>(
    '/users/:id/roles',
    {
      schema: {
        params: uuidParam('id'),
        body: { type: 'object', properties: roleProperties, required: ['role'], additionalProperties: false },
        response: { 201: { type: 'object', properties: { user_id: { type: 'string' }, role: { type: 'string' }, organization_id: { type: ['string', 'null'] } } }, '4xx': errorSchema },
      },
    },
    async (request, reply) => {
      const { role, organization } = request.body;
      const organizationId = await grantableScope(request.principal, role, organization);
      if (!(await userExists(deps.pool, request.params.id))) throw notFound('user');
      await grantRole(deps.pool, request.params.id, role, organizationId);
      return reply.status(201).send({ user_id: request.params.id, role, organization_id: organizationId });
    },
  );

  const tokenBody = (extra: Record<string, unknown>) => ({
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 64 },
      expires_in_seconds: { type: 'integer', minimum: 60, maximum: 10 * 365 * 86_400 },
      ...extra,
    },
    required: ['name'],
    additionalProperties: false,
  });

  // A token for yourself (no user_id) or for a user you manage; the secret is in this answer only.
  app.post<{ Body: { name: string; user_id?: string; expires_in_seconds?: number } }>(
    '/tokens',
    { schema: { body: tokenBody({ user_id: { type: 'string', format: 'uuid' } }), response: tokenResponse } },
    async (request, reply) => {
      const userId = request.body.user_id ?? request.principal.userId;
      const token = await issueToken(request.principal, userId, request.body.name, request.body.expires_in_seconds);
      return reply.status(201).send({ token, user_id: userId });
    },
  );

  app.post<{ Params: { id: string }; Body: { name: string; expires_in_seconds?: number } }>(
    '/users/:id/tokens',
    { schema: { params: uuidParam('id'), body: tokenBody({}), response: tokenResponse } },
    async (request, reply) => {
      const token = await issueToken(request.principal, request.params.id, request.body.name, request.body.expires_in_seconds);
      return reply.status(201).send({ token, user_id: request.params.id });
    },
  );

  const inboxSchema = {
    type: 'object',
    properties: {
      items: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            kind: { type: 'string' },
            title: { type: 'string' },
            body: { type: 'string' },
            labels: { type: 'object', additionalProperties: { type: 'string' } },
            links: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' }, url: { type: 'string' } } } },
            deliveryStatus: { type: 'string' },
            attempts: { type: 'integer' },
            lastError: { type: ['string', 'null'] },
            createdAt: { type: 'string' },
            deliveredAt: { type: ['string', 'null'] },
            readAt: { type: ['string', 'null'] },
            email: {
              type: ['object', 'null'],
              properties: { status: { type: 'string' }, attempts: { type: 'integer' }, lastError: { type: ['string', 'null'] } },
            },
          },
        },
      },
      nextCursor: { type: ['string', 'null'] },
    },
  };
  app.get<{ Querystring: { limit?: number; before?: string } }>(
    '/users/me/notifications',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, before: { type: 'string', maxLength: 200 } },
          additionalProperties: false,
        },
        response: { 200: inboxSchema, '4xx': errorSchema },
      },
    },
    async (request) => {
      try {
        return await listNotifications(deps.pool, request.principal.userId, { limit: Number(request.query.limit ?? 20), before: request.query.before });
      } catch (err) {
        if (err instanceof NotificationQueryError) throw new ApiError(400, 'validation_failed', err.message, [{ path: `querystring.${err.field}`, message: err.message }]);
        throw err;
      }
    },
  );

  app.post<{ Params: { id: string } }>(
    '/users/me/notifications/:id/read',
    { schema: { params: uuidParam('id'), response: { 200: { type: 'object', properties: { read: { type: 'boolean' } } }, '4xx': errorSchema } } },
    async (request) => {
      if (!(await markNotificationRead(deps.pool, request.principal.userId, request.params.id))) throw notFound('notification');
      return { read: true };
    },
  );
}
