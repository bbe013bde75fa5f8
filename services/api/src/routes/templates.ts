import type { FastifyInstance } from 'fastify';
import { planManifestChanges } from '@warmpool/core';
import { createTemplate, listTemplates, loadActivePoolShapes, TEMPLATE_NAME_PATTERN } from '@warmpool/db';
import { activateVersion, checkManifest, importVersion, reconcilesThrough, retireTemplate } from '@warmpool/operations';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { authorize, errorSchema, findOrganization, findTemplate, orgParam, uuidParam } from './common.js';

const templateSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    active_version_id: { type: ['string', 'null'] },
    deprecated: { type: 'boolean' },
  },
  required: ['id', 'name', 'active_version_id', 'deprecated'],
};

// The manifest (SPEC §2) as JSON or YAML. Only its outer shape is checked here: the core validates the content
// and names every offending field, the same validation the CLI uses.
const manifestBody = {
  content: {
    'application/json': {
      schema: { type: 'object', description: 'manifest: { name, parameters: [...], presets: [...] } (SPEC §2)' },
    },
    'application/yaml': { schema: { type: 'string', description: 'the same manifest as YAML' } },
  },
};

export async function templateRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const ops = { pool: deps.pool, reconcile: reconcilesThrough(deps.queues, deps.logger) };

  app.post<{ Params: { org: string }; Body: { name: string } }>(
    '/organizations/:org/templates',
    {
      schema: {
        params: orgParam,
        body: { type: 'object', properties: { name: { type: 'string', pattern: TEMPLATE_NAME_PATTERN } }, required: ['name'], additionalProperties: false },
        response: { 201: templateSchema, '4xx': errorSchema },
      },
    },
    async (request, reply) => {
      const organizationId = await findOrganization(deps, request.principal, request.params.org);
      authorize(request.principal, 'template.write', { organizationId });
      const created = await createTemplate(deps.pool, organizationId, request.body.name);
      if (!created) throw new ApiError(409, 'conflict', `template ${JSON.stringify(request.body.name)} already exists`);
      return reply.status(201).send(created);
    },
  );

  app.get<{ Params: { org: string } }>(
    '/organizations/:org/templates',
    { schema: { params: orgParam, response: { 200: { type: 'array', items: templateSchema }, '4xx': errorSchema } } },
    async (request) => {
      const organizationId = await findOrganization(deps, request.principal, request.params.org);
      authorize(request.principal, 'template.read', { organizationId });
      return listTemplates(deps.pool, organizationId);
    },
  );

  // The manifest arrives as JSON, or as YAML text (Content-Type application/yaml); the core validates it either way.
  app.post<{ Params: { id: string }; Querystring: { activate?: 'true' | 'false' }; Body: unknown }>(
    '/templates/:id/versions',
    {
      schema: {
        params: uuidParam('id'),
        querystring: { type: 'object', properties: { activate: { type: 'string', enum: ['true', 'false'] } }, additionalProperties: false },
        body: manifestBody,
        response: {
          201: {
            type: 'object',
            properties: {
              version_id: { type: 'string' },
              name: { type: 'string' },
              active: { type: 'boolean' },
              presets: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } } },
              warnings: { type: 'array', items: { type: 'string' } },
            },
          },
          '4xx': errorSchema,
        },
      },
    },
    async (request, reply) => {
      const template = await findTemplate(deps, request.principal, request.params.id);
      authorize(request.principal, 'template.write', { organizationId: template.organization_id });
      const activate = request.query.activate === 'true';
      const result = await importVersion(ops, { template: { id: template.id }, manifest: request.body, createdBy: request.principal.userId, activate });
      return reply.status(201).send({ version_id: result.versionId, name: result.versionName, active: activate, presets: result.presets, warnings: result.warnings });
    },
  );

  // Dry run of a whole manifest: validated like an import, then what activating it would do to each pool. Stores nothing.
  app.post<{ Params: { id: string }; Body: unknown }>(
    '/templates/:id/versions/dry-run',
    {
      schema: {
        params: uuidParam('id'),
        body: manifestBody,
        response: {
          200: {
            type: 'object',
            properties: {
              warnings: { type: 'array', items: { type: 'string' } },
              changes: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    preset: { type: 'string' },
                    change: { type: 'string', enum: ['created', 'rotated', 'destroyed'] },
                    desiredBefore: { type: ['integer', 'null'] },
                    desiredAfter: { type: ['integer', 'null'] },
                    resized: { type: 'boolean' },
                    prebuildsReplaced: { type: 'integer' },
                    autoscaling: { type: ['string', 'null'] },
                  },
                },
              },
            },
          },
          '4xx': errorSchema,
        },
      },
    },
    async (request) => {
      const template = await findTemplate(deps, request.principal, request.params.id);
      // Those who may import may see what an import would do.
      authorize(request.principal, 'template.write', { organizationId: template.organization_id });
      const validation = checkManifest(request.body);
      return { warnings: validation.warnings, changes: planManifestChanges(await loadActivePoolShapes(deps.pool, template.id), validation.value, new Date()) };
    },
  );

  app.post<{ Params: { id: string; versionId: string } }>(
    '/templates/:id/versions/:versionId/activate',
    { schema: { params: uuidParam('id', 'versionId'), response: { 200: templateSchema, '4xx': errorSchema } } },
    async (request) => {
      const template = await findTemplate(deps, request.principal, request.params.id);
      authorize(request.principal, 'template.write', { organizationId: template.organization_id });
      await activateVersion(ops, { templateId: template.id, versionId: request.params.versionId });
      return { ...template, active_version_id: request.params.versionId };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/templates/:id/deprecate',
    { schema: { params: uuidParam('id'), response: { 200: templateSchema, '4xx': errorSchema } } },
    async (request) => {
      const template = await findTemplate(deps, request.principal, request.params.id);
      authorize(request.principal, 'template.write', { organizationId: template.organization_id });
      await retireTemplate(ops, { templateId: template.id, how: 'deprecated' });
      return { ...template, deprecated: true };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/templates/:id',
    { schema: { params: uuidParam('id'), response: { 204: { type: 'null' }, '4xx': errorSchema } } },
    async (request, reply) => {
      const template = await findTemplate(deps, request.principal, request.params.id);
      authorize(request.principal, 'template.write', { organizationId: template.organization_id });
      await retireTemplate(ops, { templateId: template.id, how: 'deleted' });
      return reply.status(204).send();
    },
  );
}
