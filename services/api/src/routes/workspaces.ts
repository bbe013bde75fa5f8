import type { FastifyInstance } from 'fastify';
import {
  getWorkspace,
  SYSTEM_USER_ID,
  updateWorkspaceLifecycle,
  type WorkspaceRow,
} from '@warmpool/db';
import { createWorkspace, deleteWorkspace } from '@warmpool/operations';
import { workspaceReadiness } from '@warmpool/core';
import type { ApiDeps } from '../deps.js';
import { findOrganizationForCreate } from './claim-lookup.js';
import { can, seesOrganization } from '../authz.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { authorize, claimTargetCache, typed } from './common.js';
import { createWorkspaceSchema, deleteWorkspaceSchema, getWorkspaceSchema, updateWorkspaceSchema } from './workspaces.schemas.js';

const toDate = (iso: string | null | undefined) => (iso ? new Date(iso) : null);

/** The workspace resource: the row, its latest build's agents and the readiness a client polls (`usable`). */
function view(w: WorkspaceRow) {
  const agents = (w.agents ?? []).map((a) => ({ name: a.name, ready: a.ready, ready_at: a.ready_at ? new Date(a.ready_at).toISOString() : null }));
  const b = w.latest_build;
  const readiness = workspaceReadiness(
    b && { transition: b.transition, reason: b.reason, jobStatus: b.job_status, completedAt: toDate(b.completed_at), error: b.error ?? null },
    agents.map((a) => ({ name: a.name, ready: a.ready, readyAt: toDate(a.ready_at) })),
    w.deleted,
  );
  return {
    ...w,
    is_prebuild: w.owner_id === SYSTEM_USER_ID,
    created_at: w.created_at.toISOString(),
    latest_build: b && { ...b, error: b.error ?? null, completed_at: b.completed_at ? new Date(b.completed_at).toISOString() : null },
    agents,
    claim_hook: readiness.claimHook,
    usable: readiness.usable,
    usable_at: readiness.usableAt?.toISOString() ?? null,
  };
}

export async function workspaceRoutes(fastify: FastifyInstance, deps: ApiDeps): Promise<void> {
  const app = typed(fastify);
  /** A workspace the principal can see; objects of other organizations answer 404. */
  const visibleWorkspace = async (principal: Parameters<typeof can>[0], id: string) => {
    const ws = await getWorkspace(deps.pool, id);
    if (!ws || ws.deleted || !seesOrganization(principal, ws.organization_id)) throw notFound('workspace');
    return ws;
  };

  app.post(
    '/organizations/:org/workspaces',
    { schema: createWorkspaceSchema },
    async (request, reply) => {
      const { principal } = request;
      const organizationId = await findOrganizationForCreate(deps, principal, request.params.org, request.body.template_id);
      authorize(principal, 'workspace.create', { organizationId });
      const body = request.body;
      // The template's active version and presets are cached per replica (claim and fresh insert re-check it in SQL).
      const result = await createWorkspace({ ...deps, claimTargets: claimTargetCache(deps) }, {
        organizationId,
        templateId: body.template_id,
        userId: principal.userId,
        name: body.name,
        presetId: body.preset_id,
        parameters: body.parameters,
      });
      if (result.request) {
        // Warm and cold requests of the preset (its demand, recorded by the same transaction) split by `type`; claims
        // counted by where the workspace came from (hot, thawed, cold).
        const labels = { organization_name: request.params.org, template_name: result.request.templateName, preset_name: result.request.presetName };
        deps.metrics.presetRequestDuration.observe({ ...labels, type: result.request.type }, result.request.seconds);
        deps.metrics.claims.inc({ ...labels, source: result.request.source });
      }
      return reply.status(201).send({ claimed: result.claimed, preset_id: result.presetId, build_id: result.buildId, workspace: view(result.workspace) });
    },
  );

  app.get(
    '/workspaces/:id',
    { schema: getWorkspaceSchema },
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

  // Deletion (BEHAVIOUR.md §7): workspace.delete, or for a prebuild prebuilt_workspace.delete (template admins in scope).
  app.delete(
    '/workspaces/:id',
    { schema: deleteWorkspaceSchema },
    async (request, reply) => {
      const { principal } = request;
      await visibleWorkspace(principal, request.params.id);
      const buildId = await deleteWorkspace(deps, {
        workspaceId: request.params.id,
        initiatorId: principal.userId,
        authorize: (ws) => {
          const target = { organizationId: ws.organization_id, ownerId: ws.owner_id };
          const allowed = can(principal, 'workspace.delete', target) || (ws.owner_id === SYSTEM_USER_ID && can(principal, 'prebuilt_workspace.delete', target));
          if (!allowed) throw forbidden('delete this workspace');
        },
      });
      return reply.status(202).send({ build_id: buildId });
    },
  );

  // Lifecycle options; an unclaimed prebuild is not touched by user lifecycle features (BEHAVIOUR.md §5).
  app.patch(
    '/workspaces/:id',
    { schema: updateWorkspaceSchema },
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
