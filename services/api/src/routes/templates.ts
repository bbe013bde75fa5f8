import type { FastifyInstance } from 'fastify';
import { ManifestSyntaxError, parseManifestText, validateManifest } from '@warmpool/core';
import { enqueueReconciles } from '@warmpool/bus';
import {
  activateVersion,
  createTemplate,
  importTemplateVersion,
  listTemplatePresetIds,
  listTemplates,
  listVersionPresets,
  retireTemplate,
  TEMPLATE_NAME_PATTERN,
  versionBelongsTo,
  VersionExistsError,
  withTransaction,
} from '@warmpool/db';
import type { ApiDeps } from '../app.js';
import { ApiError, notFound } from '../errors.js';
import { unstorableText } from '../text.js';
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
  const reconcile = (ids: string[], trigger: string) =>
    enqueueReconciles(deps.queues.reconcile, ids, trigger).catch((err: unknown) => deps.logger.warn({ err }, 'could not trigger reconciles; the next tick will'));

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
  app.post<{ Params: { id: string }; Querystring: { activate?: boolean }; Body: unknown }>(
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
      let input: unknown = request.body;
      if (typeof input === 'string') {
        try {
          input = parseManifestText(input);
        } catch (err) {
          if (err instanceof ManifestSyntaxError) throw new ApiError(400, 'invalid_manifest', err.message);
          throw err;
        }
      }
      // YAML escapes (\0) can produce text the transport check never saw.
      const unstorable = unstorableText(input, 'manifest');
      if (unstorable.length > 0) throw new ApiError(400, 'invalid_text', 'text must not contain NUL characters or unpaired surrogates', unstorable.map((path) => ({ path, message: 'unstorable character' })));
      const validation = validateManifest(input);
      if (!validation.ok) throw new ApiError(400, 'invalid_manifest', 'the manifest is invalid; nothing was stored', validation.errors);
      const activate = String((request.query as { activate?: string }).activate) === 'true';
      const result = await withTransaction(deps.pool, (client) =>
        importTemplateVersion(client, { templateId: template.id, manifest: validation.value, createdBy: request.principal.userId, activate }),
      ).catch((err: unknown) => {
        if (err instanceof VersionExistsError) throw new ApiError(409, 'conflict', err.message);
        throw err;
      });
      if (activate) await reconcile(result.affectedPresetIds, 'version-activated');
      const presets = await listVersionPresets(deps.pool, result.versionId);
      return reply.status(201).send({ version_id: result.versionId, name: validation.value.name, active: activate, presets, warnings: validation.warnings });
    },
  );

  app.post<{ Params: { id: string; versionId: string } }>(
    '/templates/:id/versions/:versionId/activate',
    { schema: { params: uuidParam('id', 'versionId'), response: { 200: templateSchema, '4xx': errorSchema } } },
    async (request) => {
      const template = await findTemplate(deps, request.principal, request.params.id);
      authorize(request.principal, 'template.write', { organizationId: template.organization_id });
      const previous = await withTransaction(deps.pool, async (client) => {
        if (!(await versionBelongsTo(client, request.params.versionId, template.id))) throw notFound('version');
        return activateVersion(client, template.id, request.params.versionId);
      });
      const current = (await listVersionPresets(deps.pool, request.params.versionId)).map((p) => p.id);
      await reconcile([...current, ...previous], 'version-activated');
      return { ...template, active_version_id: request.params.versionId };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/templates/:id/deprecate',
    { schema: { params: uuidParam('id'), response: { 200: templateSchema, '4xx': errorSchema } } },
    async (request) => {
      const template = await findTemplate(deps, request.principal, request.params.id);
      authorize(request.principal, 'template.write', { organizationId: template.organization_id });
      await retireTemplate(deps.pool, template.id, 'deprecated');
      await reconcile(await listTemplatePresetIds(deps.pool, template.id), 'template-deprecated');
      return { ...template, deprecated: true };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/templates/:id',
    { schema: { params: uuidParam('id'), response: { 204: { type: 'null' }, '4xx': errorSchema } } },
    async (request, reply) => {
      const template = await findTemplate(deps, request.principal, request.params.id);
      authorize(request.principal, 'template.write', { organizationId: template.organization_id });
      await retireTemplate(deps.pool, template.id, 'deleted');
      await reconcile(await listTemplatePresetIds(deps.pool, template.id), 'template-deleted');
      return reply.status(204).send();
    },
  );
}
