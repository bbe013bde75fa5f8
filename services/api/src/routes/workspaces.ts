import type { FastifyInstance } from 'fastify';
import { matchPreset, resolveBuildParameters } from '@warmpool/core';
import { BUILD_PRIORITY, enqueueReconcile } from '@warmpool/bus';
import {
  claimPrebuild,
  createFreshWorkspace,
  getWorkspace,
  loadClaimTarget,
  requestWorkspaceDelete,
  SYSTEM_USER_ID,
  updateWorkspaceLifecycle,
  WorkspaceNameTakenError,
  type WorkspaceRow,
} from '@warmpool/db';
import { withOutboxTransaction } from '@warmpool/operations';
import type { ApiDeps } from '../app.js';
import { can, seesOrganization } from '../authz.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { authorize, errorSchema, findOrganization, orgParam, uuidParam } from './common.js';

const workspaceSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    organization_id: { type: 'string' },
    template_id: { type: 'string' },
    template_version_id: { type: 'string' },
    preset_id: { type: ['string', 'null'] },
    owner_id: { type: 'string' },
    is_prebuild: { type: 'boolean' },
    deleted: { type: 'boolean' },
    autostop_seconds: { type: ['integer', 'null'] },
    dormant_after_seconds: { type: ['integer', 'null'] },
    created_at: { type: 'string' },
    latest_build: {
      type: ['object', 'null'],
      properties: { id: { type: 'string' }, build_number: { type: 'integer' }, transition: { type: 'string' }, job_status: { type: 'string' }, reason: { type: 'string' } },
    },
  },
};

// A year; also keeps values inside the int4 columns (an overflow would otherwise be a 5xx).
const MAX_LIFECYCLE_SECONDS = 365 * 86_400;

const view = (w: WorkspaceRow) => ({ ...w, is_prebuild: w.owner_id === SYSTEM_USER_ID, created_at: w.created_at.toISOString() });

type CreateBody = { template_id: string; name: string; preset_id?: string; parameters?: Record<string, string> };

export async function workspaceRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  /** A workspace the principal can see; objects of other organizations answer 404. */
  const visibleWorkspace = async (principal: Parameters<typeof can>[0], id: string) => {
    const ws = await getWorkspace(deps.pool, id);
    if (!ws || ws.deleted || !seesOrganization(principal, ws.organization_id)) throw notFound('workspace');
    return ws;
  };

  app.post<{ Params: { org: string }; Body: CreateBody }>(
    '/organizations/:org/workspaces',
    {
      schema: {
        params: orgParam,
        body: {
          type: 'object',
          properties: {
            template_id: { type: 'string', format: 'uuid' },
            name: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$' },
            preset_id: { type: 'string', format: 'uuid' },
            parameters: { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, propertyNames: { minLength: 1 }, maxProperties: 200 },
          },
          required: ['template_id', 'name'],
          additionalProperties: false,
        },
        response: {
          201: { type: 'object', properties: { claimed: { type: 'boolean' }, preset_id: { type: ['string', 'null'] }, build_id: { type: 'string' }, workspace: workspaceSchema } },
          '4xx': errorSchema,
        },
      },
    },
    async (request, reply) => {
      const { principal } = request;
      const organizationId = await findOrganization(deps, principal, request.params.org);
      authorize(principal, 'workspace.create', { organizationId });
      const body = request.body;
      const template = await loadClaimTarget(deps.pool, organizationId, body.template_id);
      if (!template) throw notFound('template (with an active version)');
      if (template.deprecated) {
        throw new ApiError(409, 'template_deprecated', 'the template is deprecated: new workspaces cannot be created from it');
      }
      const { presets } = template;
      let preset = body.preset_id ? presets.find((p) => p.id === body.preset_id) : matchPreset(presets, body.parameters ?? {});
      if (body.preset_id && !preset) throw new ApiError(400, 'validation_failed', 'the preset does not belong to the active version of this template', [{ path: 'body.preset_id', message: 'unknown preset for this template' }]);
      preset = preset ?? null;
      const resolved = resolveBuildParameters(template.declarations, { ...(body.parameters ?? {}), ...(preset?.parameters ?? {}) });
      if (!resolved.ok) throw new ApiError(400, 'validation_failed', resolved.error, [{ path: 'body.parameters', message: resolved.error }]);

      const started = performance.now();
      // The build request is committed in the outbox; publishing it must not delay the answer (background flush).
      const result = await withOutboxTransaction(deps, async (client) => {
        if (preset) {
          const claim = await claimPrebuild(client, { presetId: preset.id, userId: principal.userId, name: body.name, priority: BUILD_PRIORITY.human });
          if (claim) return { claimed: true, ...claim };
        }
        const fresh = await createFreshWorkspace(client, {
          organizationId,
          templateId: template.id,
          templateVersionId: template.activeVersionId,
          presetId: preset?.id ?? null,
          userId: principal.userId,
          name: body.name,
          parameters: resolved.parameters,
          priority: BUILD_PRIORITY.human,
        });
        return { claimed: false, ...fresh };
      }, { background: true }).catch((err: unknown) => {
        if (err instanceof WorkspaceNameTakenError) throw new ApiError(409, 'conflict', err.message);
        throw err;
      });
      if (result.claimed && preset) {
        deps.metrics.claimDuration.observe(
          { organization_name: request.params.org, template_name: template.name, preset_name: preset.name },
          (performance.now() - started) / 1000,
        );
        // Refill at once (SPEC §5): the claimed prebuild left the pool. Not awaited: the answer need not wait.
        void enqueueReconcile(deps.queues.reconcile, preset.id, 'claim').catch((err: unknown) => request.log.warn({ err }, 'claim reconcile not enqueued; the tick will'));
      }
      const workspace = await getWorkspace(deps.pool, result.workspaceId);
      return reply.status(201).send({ claimed: result.claimed, preset_id: preset?.id ?? null, build_id: result.buildId, workspace: view(workspace!) });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/workspaces/:id',
    { schema: { params: uuidParam('id'), response: { 200: workspaceSchema, '4xx': errorSchema } } },
    async (request) => {
      const ws = await visibleWorkspace(request.principal, request.params.id);
      const isPrebuild = ws.owner_id === SYSTEM_USER_ID;
      const allowed =
        can(request.principal, 'workspace.read', { organizationId: ws.organization_id, ownerId: ws.owner_id }) ||
        (isPrebuild && can(request.principal, 'prebuild.status.read', { organizationId: ws.organization_id }));
      if (!allowed) throw notFound('workspace');
      return view(ws);
    },
  );

  // Deletion (SPEC §7): workspace.delete, or for a prebuild prebuilt_workspace.delete (template admins in scope).
  app.delete<{ Params: { id: string } }>(
    '/workspaces/:id',
    { schema: { params: uuidParam('id'), response: { 202: { type: 'object', properties: { build_id: { type: 'string' } } }, '4xx': errorSchema } } },
    async (request, reply) => {
      const { principal } = request;
      await visibleWorkspace(principal, request.params.id);
      const buildId = await withOutboxTransaction(deps, async (client) => {
        const ws = await getWorkspace(client, request.params.id, { forUpdate: true });
        if (!ws || ws.deleted) throw notFound('workspace');
        const target = { organizationId: ws.organization_id, ownerId: ws.owner_id };
        const allowed = can(principal, 'workspace.delete', target) || (ws.owner_id === SYSTEM_USER_ID && can(principal, 'prebuilt_workspace.delete', target));
        if (!allowed) throw forbidden('delete this workspace');
        if (ws.latest_build?.transition === 'delete' && ['pending', 'running', 'succeeded'].includes(ws.latest_build.job_status)) {
          throw new ApiError(409, 'conflict', 'the workspace is already being deleted');
        }
        return requestWorkspaceDelete(client, ws, principal.userId, BUILD_PRIORITY.human);
      });
      return reply.status(202).send({ build_id: buildId });
    },
  );

  // Lifecycle options; an unclaimed prebuild is not touched by user lifecycle features (SPEC §5).
  app.patch<{ Params: { id: string }; Body: { autostop_seconds?: number | null; dormant_after_seconds?: number | null } }>(
    '/workspaces/:id',
    {
      schema: {
        params: uuidParam('id'),
        body: {
          type: 'object',
          properties: {
            autostop_seconds: { type: ['integer', 'null'], minimum: 60, maximum: MAX_LIFECYCLE_SECONDS },
            dormant_after_seconds: { type: ['integer', 'null'], minimum: 3600, maximum: MAX_LIFECYCLE_SECONDS },
          },
          additionalProperties: false,
          minProperties: 1,
        },
        response: { 200: workspaceSchema, '4xx': errorSchema },
      },
    },
    async (request) => {
      const ws = await visibleWorkspace(request.principal, request.params.id);
      if (ws.owner_id === SYSTEM_USER_ID) throw new ApiError(409, 'prebuild_unclaimed', 'lifecycle options cannot be set on an unclaimed prebuild');
      authorize(request.principal, 'workspace.update', { organizationId: ws.organization_id, ownerId: ws.owner_id });
      const b = request.body;
      await updateWorkspaceLifecycle(deps.pool, ws.id, {
        autostopSeconds: 'autostop_seconds' in b ? (b.autostop_seconds ?? null) : undefined,
        dormantAfterSeconds: 'dormant_after_seconds' in b ? (b.dormant_after_seconds ?? null) : undefined,
      });
      return view((await getWorkspace(deps.pool, ws.id))!);
    },
  );
}
