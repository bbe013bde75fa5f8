import { DEFAULT_ROLLOUT_DEADLINE_SECONDS, DEFAULT_SURGE, ROLLOUT_DEADLINE_RANGE, SURGE_MAX_BUILDS } from '@warmpool/core';
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

const rollout = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    template_id: { type: 'string' },
    version_id: { type: 'string' },
    version_name: { type: 'string' },
    previous_version_id: { type: ['string', 'null'] },
    state: { type: 'string', enum: ['staged', 'promoted', 'canceled', 'failed'] },
    surge: { type: 'string' },
    surge_builds: { type: 'integer' },
    deadline_at: { type: 'string', format: 'date-time' },
    started_at: { type: 'string', format: 'date-time' },
    ended_at: { type: ['string', 'null'], format: 'date-time' },
    end_reason: { type: ['string', 'null'] },
  },
  required: ['id', 'template_id', 'version_id', 'version_name', 'previous_version_id', 'state', 'surge', 'surge_builds', 'deadline_at', 'started_at', 'ended_at', 'end_reason'],
} as const;

const rolloutProgress = {
  type: 'object',
  properties: {
    ...rollout.properties,
    in_flight: { type: 'integer', description: 'staged builds in flight now, template-wide' },
    decision: { type: ['string', 'null'], enum: ['wait', 'promote', 'stop', null], description: 'what the rollout does next (null once ended)' },
    presets: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          preset_id: { type: 'string' },
          name: { type: 'string' },
          status: { type: 'string' },
          eligible: { type: 'integer' },
          threshold: { type: 'integer', description: 'eligible prebuilds needed: the desired count now' },
          running: { type: 'integer' },
          starting: { type: 'integer' },
          warm: { type: 'boolean' },
        },
        required: ['preset_id', 'name', 'status', 'eligible', 'threshold', 'running', 'starting', 'warm'],
      },
    },
  },
  required: [...rollout.required, 'in_flight', 'decision', 'presets'],
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

// Rollout options (BEHAVIOUR.md §4.7), as query parameters of an import with activate=staged or in a rollout's body.
const rolloutOptions = {
  surge: {
    type: 'string',
    maxLength: 8,
    description: `staged builds in flight at once: a count (1 to ${SURGE_MAX_BUILDS}) or a percentage of the desired total ("25%"); default ${DEFAULT_SURGE}`,
  },
  deadline_seconds: {
    type: 'integer',
    minimum: ROLLOUT_DEADLINE_RANGE.min,
    maximum: ROLLOUT_DEADLINE_RANGE.max,
    description: `not warm by then: the rollout stops; default ${DEFAULT_ROLLOUT_DEADLINE_SECONDS}`,
  },
} as const;

export const importVersionSchema = {
  params: uuidParam('id'),
  querystring: {
    type: 'object',
    properties: {
      activate: { type: 'string', enum: ['true', 'false', 'staged'], description: 'true: active at once; staged: warmed, then made active when warm' },
      surge: rolloutOptions.surge,
      // Query values are text: the range is checked with the body's (core ROLLOUT_DEADLINE_RANGE), naming this field.
      deadline_seconds: { type: 'string', pattern: '^[0-9]{1,9}$', description: rolloutOptions.deadline_seconds.description },
    },
    additionalProperties: false,
  },
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
        rollout: { anyOf: [{ type: 'null' }, rollout] },
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

export const startRolloutSchema = {
  params: uuidParam('id'),
  body: {
    type: 'object',
    properties: { version_id: { type: 'string', format: 'uuid' }, ...rolloutOptions },
    required: ['version_id'],
    additionalProperties: false,
  },
  response: { 201: rolloutProgress, '4xx': errorSchema },
} as const;
export const listRolloutsSchema = { params: uuidParam('id'), response: { 200: { type: 'array', items: rollout }, '4xx': errorSchema } } as const;
export const rolloutSchema = { params: uuidParam('id', 'rolloutId'), response: { 200: rolloutProgress, '4xx': errorSchema } } as const;
