import { errorSchema, orgParam, uuidParam } from './common.js';

/** The JSON schemas of the workspace routes (request types are inferred from them: keep them `as const`). */

const workspace = {
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
      properties: {
        id: { type: 'string' },
        build_number: { type: 'integer' },
        transition: { type: 'string' },
        job_status: { type: 'string' },
        reason: { type: 'string' },
        error: { type: ['string', 'null'] },
        completed_at: { type: ['string', 'null'], description: 'ISO time the build finished' },
      },
    },
    agents: {
      type: 'array',
      description: "The latest build's agents (the Docker provisioner: one, `main`, ready when the container's health check passes)",
      items: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' }, ready_at: { type: ['string', 'null'] } } },
    },
    claim_hook: {
      type: ['object', 'null'],
      description: "For a claim (latest build reason `claim`): the claim hook's outcome; null otherwise",
      properties: { status: { type: 'string', enum: ['pending', 'succeeded', 'failed', 'canceled'] }, error: { type: ['string', 'null'] } },
    },
    usable: {
      type: 'boolean',
      description: 'The latest build is a succeeded start, it has agents and all are ready, and for a claim its hook ran: poll until true',
    },
    usable_at: { type: ['string', 'null'], description: 'When it became usable (null while not usable)' },
  },
} as const;

// A year; also keeps values inside the int4 columns (an overflow would otherwise be a 5xx).
const MAX_LIFECYCLE_SECONDS = 365 * 86_400;

export const createWorkspaceSchema = {
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
    201: { type: 'object', properties: { claimed: { type: 'boolean' }, preset_id: { type: ['string', 'null'] }, build_id: { type: 'string' }, workspace } },
    '4xx': errorSchema,
  },
} as const;

export const getWorkspaceSchema = { params: uuidParam('id'), response: { 200: workspace, '4xx': errorSchema } } as const;

export const deleteWorkspaceSchema = { params: uuidParam('id'), response: { 202: { type: 'object', properties: { build_id: { type: 'string' } } }, '4xx': errorSchema } } as const;

export const updateWorkspaceSchema = {
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
  response: { 200: workspace, '4xx': errorSchema },
} as const;
