import type { FastifyInstance } from 'fastify';
import { createTemplate, listTemplates } from '@warmpool/db';
import { activateVersion, dryRunManifest, importVersion, reconcilesThrough, retireTemplate } from '@warmpool/operations';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { authorize, findOrganization, findTemplate, forgetClaimTarget, typed } from './common.js';
import { activateVersionSchema, createTemplateSchema, deleteTemplateSchema, deprecateTemplateSchema, dryRunSchema, importVersionSchema, listTemplatesSchema } from './templates.schemas.js';

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
    const activate = request.query.activate === 'true';
    const result = await importVersion(ops, { template: { id: template.id }, manifest: request.body, createdBy: request.principal.userId, activate });
    if (activate) forgetClaimTarget(deps, template);
    return reply.status(201).send({ version_id: result.versionId, name: result.versionName, active: activate, presets: result.presets, warnings: result.warnings });
  });

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
