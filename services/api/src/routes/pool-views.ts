import type { FastifyInstance } from 'fastify';
import { latestPresetBuilds, listOrganizations, presetHistory, presetReplacements, isPaused, SYSTEM_USER_ID, type Principal } from '@warmpool/db';
import { POOL_SAMPLES } from '@warmpool/operations';
import type { ApiDeps } from '../deps.js';
import { ACTIONS, can, rolesAllowedTo, visibleOrganizationIds } from '../authz.js';
import { authorize, findPreset, typed } from './common.js';
import { buildsSchema, historySchema, replacementsSchema, scopeSchema } from './pool-views.schemas.js';

/** Read routes behind the pools console (any API client may use them): scope, a preset's builds, notices, history. */

const allowedActions = (principal: Principal, organizationId: string | null) => ACTIONS.filter((action) => can(principal, action, { organizationId }));

type Reader = { principal: Principal; organizationId: string; presetId: string };

/**
 * Whether the reader may see who owns a workspace of the pool and what it is called: always for prebuilds (pool
 * internals), else only with workspace.read on it. Members and template admins read the pool, not other users' workspaces.
 */
const seesWorkspace = (reader: Reader, ownerId: string) =>
  ownerId === SYSTEM_USER_ID || can(reader.principal, 'workspace.read', { organizationId: reader.organizationId, ownerId });

/** The preset a read route is about, authorized like its status (another organization's answers 404). */
async function presetReader(deps: ApiDeps, principal: Principal, presetId: string): Promise<Reader> {
  const preset = await findPreset(deps, principal, presetId);
  authorize(principal, 'prebuild.status.read', { organizationId: preset.organization_id });
  return { principal, organizationId: preset.organization_id, presetId: preset.id };
}

// What the caller may see and do: the organizations in scope with the actions allowed there, site-wide actions and
// the pause flag, and which roles grant each action (so a page can say what is needed).
async function scopeOf(deps: ApiDeps, principal: Principal) {
  const [organizations, paused] = await Promise.all([listOrganizations(deps.pool, visibleOrganizationIds(principal)), isPaused(deps.pool)]);
  return {
    username: principal.username,
    site: { actions: allowedActions(principal, null), paused },
    rolesFor: Object.fromEntries(ACTIONS.map((action) => [action, rolesAllowedTo(action)])),
    organizations: organizations.map((o) => ({ ...o, actions: allowedActions(principal, o.id) })),
  };
}

export async function poolViewRoutes(fastify: FastifyInstance, deps: ApiDeps): Promise<void> {
  const app = typed(fastify);
  app.get('/users/me/scope', { schema: scopeSchema }, async (request) => scopeOf(deps, request.principal));

  // Another user's workspace: its build shows (the pool's history) without the name and error the user owns.
  app.get('/presets/:id/builds', { schema: buildsSchema }, async (request) => {
    const reader = await presetReader(deps, request.principal, request.params.id);
    const builds = await latestPresetBuilds(deps.pool, reader.presetId, Number(request.query.limit ?? 20));
    return builds.map((b) => (seesWorkspace(reader, b.ownerId) ? b : { ...b, workspaceName: null, error: null }));
  });

  app.get('/presets/:id/replacements', { schema: replacementsSchema }, async (request) => {
    const reader = await presetReader(deps, request.principal, request.params.id);
    const notices = await presetReplacements(deps.pool, reader.presetId, Number(request.query.limit ?? 20));
    return notices.map((r) => (seesWorkspace(reader, r.claimantId) ? r : { ...r, workspaceName: null, claimant: null }));
  });

  // The past days of the pool: desired/eligible samples recorded by the metrics refresher, requests per hour served
  // by a prebuild (hits) or built fresh (misses), from the demand history.
  app.get('/presets/:id/history', { schema: historySchema }, async (request) => {
    const reader = await presetReader(deps, request.principal, request.params.id);
    const since = new Date(Date.now() - Number(request.query.days ?? 7) * 86_400_000);
    return { since: since.toISOString(), sampleIntervalMs: POOL_SAMPLES.bucketMs, ...(await presetHistory(deps.pool, reader.presetId, since)) };
  });
}
