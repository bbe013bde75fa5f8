import { TEMPLATE_NAME_PATTERN } from '@warmpool/db';
import { errorSchema, orgParam, uuidParam } from './common.js';

/** The JSON schemas of the template routes (request types are inferred from them: keep them `as const`). */

const template = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    active_version_id: { type: ['string', 'null'] },
    deprecated: { type: 'boolean' },
  },
  required: ['id', 'name', 'active_version_id', 'deprecated'],
} as const;

// The manifest (BEHAVIOUR.md §2) as JSON or YAML. Only its outer shape is checked here: the core validates the content
// and names every offending field, the same validation the CLI uses.
const manifestBody = {
  content: {
    'application/json': {
      schema: { type: 'object', description: 'manifest: { name, parameters: [...], presets: [...] } (BEHAVIOUR.md §2)' },
    },
    'application/yaml': { schema: { type: 'string', description: 'the same manifest as YAML' } },
  },
} as const;

export const createTemplateSchema = {
  params: orgParam,
  body: { type: 'object', properties: { name: { type: 'string', pattern: TEMPLATE_NAME_PATTERN } }, required: ['name'], additionalProperties: false },
  response: { 201: template, '4xx': errorSchema },
} as const;

export const listTemplatesSchema = { params: orgParam, response: { 200: { type: 'array', items: template }, '4xx': errorSchema } } as const;

export const importVersionSchema = {
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
    // A large manifest is checked in a worker thread: 503 busy when its queue is full (BEHAVIOUR.md §7).
    503: errorSchema,
  },
} as const;

export const dryRunSchema = {
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
    503: errorSchema,
  },
} as const;

export const activateVersionSchema = { params: uuidParam('id', 'versionId'), response: { 200: template, '4xx': errorSchema } } as const;
export const deprecateTemplateSchema = { params: uuidParam('id'), response: { 200: template, '4xx': errorSchema } } as const;
export const deleteTemplateSchema = { params: uuidParam('id'), response: { 204: { type: 'null' }, '4xx': errorSchema } } as const;
