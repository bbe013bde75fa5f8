import type { FastifyInstance } from 'fastify';
import { createApiToken, listNotifications, markNotificationRead, NotificationQueryError } from '@warmpool/db';
import type { ApiDeps } from '../app.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { authorize, errorSchema, findOrganization, uuidParam } from './common.js';

type Role = 'owner' | 'template-admin' | 'org-admin' | 'member';

export async function userRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/users/me', { schema: { response: { '4xx': errorSchema } } }, async (request) => ({
    id: request.principal.userId,
    username: request.principal.username,
    roles: request.principal.roles,
  }));

  // Owners grant any role; org admins grant org-admin and member roles in their organization.
  app.post<{ Body: { username: string; role: Role; organization?: string } }>(
    '/users',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            username: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' },
            role: { type: 'string', enum: ['owner', 'template-admin', 'org-admin', 'member'] },
            organization: { type: 'string', minLength: 1, maxLength: 63 },
          },
          required: ['username', 'role'],
          additionalProperties: false,
        },
        response: { 201: { type: 'object', properties: { id: { type: 'string' }, username: { type: 'string' } } }, '4xx': errorSchema },
      },
    },
    async (request, reply) => {
      const { username, role, organization } = request.body;
      if (username === 'prebuilds') throw new ApiError(400, 'validation_failed', '"prebuilds" is the reserved system user', [{ path: 'body.username', message: 'reserved' }]);
      const organizationId = organization ? await findOrganization(deps, request.principal, organization) : null;
      if ((role === 'org-admin' || role === 'member') && !organizationId) {
        throw new ApiError(400, 'validation_failed', `role ${role} needs an organization`, [{ path: 'body.organization', message: 'required for this role' }]);
      }
      if (role === 'owner' && organizationId) throw new ApiError(400, 'validation_failed', 'owner is a site-wide role', [{ path: 'body.organization', message: 'must be omitted for owner' }]);
      authorize(request.principal, 'user.manage', { organizationId });
      const onlyOrgAdmin = !request.principal.roles.some((r) => r.role === 'owner');
      if (onlyOrgAdmin && (role === 'owner' || role === 'template-admin' || organizationId === null)) throw forbidden(`grant the role ${role}`);
      const { rows } = await deps.pool.query<{ id: string }>(
        `INSERT INTO users (username) VALUES ($1) ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username RETURNING id`,
        [username],
      );
      await deps.pool.query('INSERT INTO role_assignments (user_id, role, organization_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [rows[0]!.id, role, organizationId]);
      return reply.status(201).send({ id: rows[0]!.id, username });
    },
  );

  // A token for yourself, or (owners, org admins in scope) for a user of an organization you manage.
  app.post<{ Params: { id: string }; Body: { name: string } }>(
    '/users/:id/tokens',
    {
      schema: {
        params: uuidParam('id'),
        body: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['name'], additionalProperties: false },
        response: { 201: { type: 'object', properties: { token: { type: 'string' } } }, '4xx': errorSchema },
      },
    },
    async (request, reply) => {
      const target = request.params.id;
      if (target !== request.principal.userId) {
        const { rows } = await deps.pool.query<{ organization_id: string | null }>('SELECT organization_id FROM role_assignments WHERE user_id = $1', [target]);
        if (rows.length === 0) throw notFound('user');
        // Every scope of the target must be one the caller manages (a site-wide target needs an owner).
        for (const r of rows) authorize(request.principal, 'user.manage', { organizationId: r.organization_id });
      }
      return reply.status(201).send({ token: await createApiToken(deps.pool, target, request.body.name) });
    },
  );

  app.get<{ Querystring: { limit?: number; before?: string } }>(
    '/users/me/notifications',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, before: { type: 'string', maxLength: 200 } },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
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
