import type { FastifyInstance } from 'fastify';
import { createTemplate, listRollouts, listTemplates, type RolloutRow } from '@warmpool/db';
import {
  activateVersion,
  dryRunManifest,
  endRolloutNow,
  importVersion,
  reconcilesThrough,
  retireTemplate,
  rolloutProgress,
  stageVersion,
  type RolloutProgress,
} from '@warmpool/operations';
import type { ApiDeps } from '../deps.js';
import { ApiError, notFound } from '../errors.js';
import { authorize, findOrganization, findTemplate, forgetClaimTarget, typed } from './common.js';
import {
  activateVersionSchema,
  createTemplateSchema,
  deleteTemplateSchema,
  deprecateTemplateSchema,
  dryRunSchema,
  importVersionSchema,
  listRolloutsSchema,
  listTemplatesSchema,
  rolloutSchema,
  startRolloutSchema,
} from './templates.schemas.js';

export async function templateRoutes(fastify: FastifyInstance, deps: ApiDeps): Promise<void> {
  const app = typed(fastify);
  const ops = { pool: deps.pool, reconcile: reconcilesThrough(deps.queues, deps.logger) };

  app.post('/organizations/:org/templates', { schema: createTemplateSchema }, async (request, reply) => {
    const organizationId = await findOrganization(deps, request.principal, request.params.org);
    authorize(request.principal, 'template.write', { organizationId });
    const created = await createTemplate(deps.pool, organizationId, request.body.name);
    if (!created) throw new ApiError(409, 'conflict', `template ${JSON.stringify(request.body.name)} already exists`);
    return reply.status(201).send(created);
  });

  app.get('/organizations/:org/templates', { schema: listTemplatesSchema }, async (request) => {
    const organizationId = await findOrganization(deps, request.principal, request.params.org);
    authorize(request.principal, 'template.read', { organizationId });
    return listTemplates(deps.pool, organizationId);
  });

  // The manifest arrives as JSON, or as YAML text (Content-Type application/yaml); the core validates it either way.
  app.post('/templates/:id/versions', { schema: importVersionSchema }, async (request, reply) => {
    const template = await findTemplate(deps, request.principal, request.params.id);
    authorize(request.principal, 'template.write', { organizationId: template.organization_id });
    const { activate: how, surge, deadline_seconds: deadlineText } = request.query;
    const deadlineSeconds = deadlineText === undefined ? undefined : Number(deadlineText);
    if (how !== 'staged' && (surge !== undefined || deadlineSeconds !== undefined)) {
      throw new ApiError(400, 'validation_failed', 'surge and deadline_seconds apply to a staged import only', [
        { path: surge !== undefined ? 'querystring.surge' : 'querystring.deadline_seconds', message: 'needs activate=staged' },
      ]);
    }
    const activate = how === 'true';
    const result = await importVersion(ops, {
      template: { id: template.id },
      manifest: request.body,
      createdBy: request.principal.userId,
      activate,
      rollout: how === 'staged' ? { surge, deadlineSeconds } : undefined,
    });
    if (activate) forgetClaimTarget(deps, template);
    return reply.status(201).send({
      version_id: result.versionId,
      name: result.versionName,
      active: activate,
      presets: result.presets,
      warnings: result.warnings,
      rollout: result.rollout ? rolloutJson(result.rollout) : null,
    });
  });

  // Staged rollouts (BEHAVIOUR.md §4.7): stage a stored version, read progress, promote now, cancel.
  app.post('/templates/:id/rollouts', { schema: startRolloutSchema }, async (request, reply) => {
    const template = await findTemplate(deps, request.principal, request.params.id);
    authorize(request.principal, 'template.write', { organizationId: template.organization_id });
    const { version_id: versionId, surge, deadline_seconds: deadlineSeconds } = request.body;
    const row = await stageVersion(ops, { templateId: template.id, versionId, options: { surge, deadlineSeconds }, createdBy: request.principal.userId });
    return reply.status(201).send(progressJson((await rolloutProgress(deps, template.id, row.id))!));
  });

  app.get('/templates/:id/rollouts', { schema: listRolloutsSchema }, async (request) => {
    const template = await findTemplate(deps, request.principal, request.params.id);
    authorize(request.principal, 'template.read', { organizationId: template.organization_id });
    return (await listRollouts(deps.pool, template.id, 20)).map(rolloutJson);
  });

  app.get('/templates/:id/rollouts/:rolloutId', { schema: rolloutSchema }, async (request) => {
    const template = await findTemplate(deps, request.principal, request.params.id);
    authorize(request.principal, 'template.read', { organizationId: template.organization_id });
    const progress = await rolloutProgress(deps, template.id, request.params.rolloutId);
    if (!progress) throw notFound('rollout');
    return progressJson(progress);
  });

  for (const action of ['promote', 'cancel'] as const) {
    app.post(`/templates/:id/rollouts/:rolloutId/${action}`, { schema: rolloutSchema }, async (request) => {
      const template = await findTemplate(deps, request.principal, request.params.id);
      authorize(request.principal, 'template.write', { organizationId: template.organization_id });
      await endRolloutNow(ops, { templateId: template.id, rolloutId: request.params.rolloutId, action });
      if (action === 'promote') forgetClaimTarget(deps, template);
      return progressJson((await rolloutProgress(deps, template.id, request.params.rolloutId))!);
    });
  }

  // Dry run of a whole manifest: validated like an import, then what activating it would do to each pool. Stores nothing.
  app.post('/templates/:id/versions/dry-run', { schema: dryRunSchema }, async (request) => {
    const template = await findTemplate(deps, request.principal, request.params.id);
    // Those who may import may see what an import would do.
    authorize(request.principal, 'template.write', { organizationId: template.organization_id });
    return dryRunManifest(deps.pool, template.id, request.body);
  });

  app.post('/templates/:id/versions/:versionId/activate', { schema: activateVersionSchema }, async (request) => {
    const template = await findTemplate(deps, request.principal, request.params.id);
    authorize(request.principal, 'template.write', { organizationId: template.organization_id });
    await activateVersion(ops, { templateId: template.id, versionId: request.params.versionId });
    forgetClaimTarget(deps, template);
    return { ...template, active_version_id: request.params.versionId };
  });

  app.post('/templates/:id/deprecate', { schema: deprecateTemplateSchema }, async (request) => {
    const template = await findTemplate(deps, request.principal, request.params.id);
    authorize(request.principal, 'template.write', { organizationId: template.organization_id });
    await retireTemplate(ops, { templateId: template.id, how: 'deprecated' });
    forgetClaimTarget(deps, template);
    return { ...template, deprecated: true };
  });

  app.delete('/templates/:id', { schema: deleteTemplateSchema }, async (request, reply) => {
    const template = await findTemplate(deps, request.principal, request.params.id);
    authorize(request.principal, 'template.write', { organizationId: template.organization_id });
    await retireTemplate(ops, { templateId: template.id, how: 'deleted' });
    forgetClaimTarget(deps, template);
    return reply.status(204).send(null);
  });
}

function rolloutJson(r: RolloutRow) {
  return {
    id: r.id,
    template_id: r.templateId,
    version_id: r.versionId,
    version_name: r.versionName,
    previous_version_id: r.previousVersionId,
    state: r.state,
    surge: r.surge,
    surge_builds: r.surgeBuilds,
    deadline_at: r.deadlineAt.toISOString(),
    started_at: r.startedAt.toISOString(),
    ended_at: r.endedAt?.toISOString() ?? null,
    end_reason: r.endReason,
  };
}

function progressJson(p: RolloutProgress) {
  return {
    ...rolloutJson(p.rollout),
    in_flight: p.inFlight,
    decision: p.decision?.kind ?? null,
    presets: p.presets.map((x) => ({ preset_id: x.presetId, name: x.name, status: x.status, eligible: x.eligible, threshold: x.threshold, running: x.running, starting: x.starting, warm: x.warm })),
  };
}
