import type { FastifyInstance } from 'fastify';
import { latestPresetBuilds, listOrganizations, presetHistory, presetReplacements, isPaused, SYSTEM_USER_ID, type Principal } from '@warmpool/db';
import { POOL_SAMPLES } from '@warmpool/operations';
import type { ApiDeps } from '../deps.js';
import { ACTIONS, can, rolesAllowedTo } from '../authz.js';
import { authorize, errorSchema, findPreset, uuidParam } from './common.js';

/** Read routes behind the pools console (any API client may use them): scope, a preset's builds, notices, history. */

const stringArray = { type: 'array', items: { type: 'string' } };
const hourlyCounts = { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, count: { type: 'integer' } } } };
const limitQuery = {
  type: 'object',
  properties: { limit: { type: 'string', pattern: '^(?:[1-9]|[1-9][0-9]|100)$' } },
  additionalProperties: false,
};

const allowedActions = (principal: Principal, organizationId: string | null) => ACTIONS.filter((action) => can(principal, action, { organizationId }));

type Reader = { principal: Principal; organizationId: string };

/**
 * Whether the reader may see who owns a workspace of the pool and what it is called: always for prebuilds (pool
 * internals), else only with workspace.read on it. Members read the pool, not other users' workspaces.
 */
const seesWorkspace = (reader: Reader, ownerId: string) =>
  ownerId === SYSTEM_USER_ID || can(reader.principal, 'workspace.read', { organizationId: reader.organizationId, ownerId });

export async function poolViewRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // What the caller may see and do: the organizations in scope with the actions allowed there, site-wide actions and
  // the pause flag, and which roles grant each action (so a page can say what is needed).
  app.get(
    '/users/me/scope',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              username: { type: 'string' },
              site: { type: 'object', properties: { actions: stringArray, paused: { type: 'boolean' } } },
              rolesFor: { type: 'object', additionalProperties: stringArray },
              organizations: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, actions: stringArray } } },
            },
          },
          '4xx': errorSchema,
        },
      },
    },
    async (request) => {
      const { principal } = request;
      const siteWide = principal.roles.some((r) => r.organizationId === null);
      const ids = siteWide ? null : principal.roles.map((r) => r.organizationId).filter((id): id is string => id !== null);
      const [organizations, paused] = await Promise.all([listOrganizations(deps.pool, ids), isPaused(deps.pool)]);
      return {
        username: principal.username,
        site: { actions: allowedActions(principal, null), paused },
        rolesFor: Object.fromEntries(ACTIONS.map((action) => [action, rolesAllowedTo(action)])),
        organizations: organizations.map((o) => ({ ...o, actions: allowedActions(principal, o.id) })),
      };
    },
  );

  /** A read route about one preset, authorized like its status: `load` gets the preset id, the query and the reader. */
  const presetRead = <Q extends Record<string, string | undefined>>(path: string, querystring: object, item: object, load: (presetId: string, query: Q, reader: Reader) => Promise<unknown>) =>
    app.get<{ Params: { id: string }; Querystring: Q }>(path, { schema: { params: uuidParam('id'), querystring, response: { 200: item, '4xx': errorSchema } } }, async (request) => {
      const preset = await findPreset(deps, request.principal, request.params.id);
      authorize(request.principal, 'prebuild.status.read', { organizationId: preset.organization_id });
      return load(preset.id, request.query as Q, { principal: request.principal, organizationId: preset.organization_id });
    });

  presetRead<{ limit?: string }>(
    '/presets/:id/builds',
    limitQuery,
    {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          workspaceName: { type: ['string', 'null'] },
          buildNumber: { type: 'integer' },
          transition: { type: 'string' },
          reason: { type: 'string' },
          status: { type: 'string' },
          error: { type: ['string', 'null'] },
          createdAt: { type: 'string' },
          completedAt: { type: ['string', 'null'] },
        },
      },
    },
    // Another user's workspace: its build shows (the pool's history) without the name and error the user owns.
    async (presetId, query, reader) =>
      (await latestPresetBuilds(deps.pool, presetId, Number(query.limit ?? 20))).map((b) => (seesWorkspace(reader, b.ownerId) ? b : { ...b, workspaceName: null, error: null })),
  );

  presetRead<{ limit?: string }>(
    '/presets/:id/replacements',
    limitQuery,
    {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          buildId: { type: 'string' },
          workspaceName: { type: ['string', 'null'] },
          buildNumber: { type: 'integer' },
          claimant: { type: ['string', 'null'] },
          replacements: { type: 'object', additionalProperties: stringArray },
          at: { type: 'string' },
        },
      },
    },
    async (presetId, query, reader) =>
      (await presetReplacements(deps.pool, presetId, Number(query.limit ?? 20))).map((r) => (seesWorkspace(reader, r.claimantId) ? r : { ...r, workspaceName: null, claimant: null })),
  );

  // The past days of the pool: desired/eligible samples recorded by the metrics refresher, requests per hour served
  // by a prebuild (hits) or built fresh (misses), from the demand history.
  presetRead<{ days?: string }>(
    '/presets/:id/history',
    { type: 'object', properties: { days: { type: 'string', pattern: '^[1-7]$' } }, additionalProperties: false },
    {
      type: 'object',
      properties: {
        since: { type: 'string' },
        sampleIntervalMs: { type: 'integer' },
        samples: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, desired: { type: 'integer' }, eligible: { type: 'integer' } } } },
        hits: hourlyCounts,
        misses: hourlyCounts,
      },
    },
    async (presetId, query) => {
      const since = new Date(Date.now() - Number(query.days ?? 7) * 86_400_000);
      return { since: since.toISOString(), sampleIntervalMs: POOL_SAMPLES.bucketMs, ...(await presetHistory(deps.pool, presetId, since)) };
    },
  );
}
