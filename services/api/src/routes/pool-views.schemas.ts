import { errorSchema, uuidParam } from './common.js';

/** The JSON schemas of the console's read routes (request types are inferred from them: keep them `as const`). */

const stringArray = { type: 'array', items: { type: 'string' } } as const;
const hourlyCounts = { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, count: { type: 'integer' } } } } as const;
const limitQuery = {
  type: 'object',
  properties: { limit: { type: 'string', pattern: '^(?:[1-9]|[1-9][0-9]|100)$' } },
  additionalProperties: false,
} as const;

export const scopeSchema = {
  response: {
    200: {
      type: 'object',
      properties: {
        username: { type: 'string' },
        site: { type: 'object', properties: { actions: stringArray, paused: { type: 'boolean' } } },
        rolesFor: { type: 'object', additionalProperties: stringArray },
        organizations: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, actions: stringArray } } },
      },
    },
    '4xx': errorSchema,
  },
} as const;

/** A limited list about one preset: `?limit=1..100`, an array of `item`. */
const presetList = <const Item extends object>(item: Item) =>
  ({ params: uuidParam('id'), querystring: limitQuery, response: { 200: { type: 'array', items: item }, '4xx': errorSchema } }) as const;

export const buildsSchema = presetList({
  type: 'object',
  properties: {
    id: { type: 'string' },
    workspaceName: { type: ['string', 'null'] },
    buildNumber: { type: 'integer' },
    transition: { type: 'string' },
    reason: { type: 'string' },
    status: { type: 'string' },
    error: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    completedAt: { type: ['string', 'null'] },
    agents: {
      type: 'array',
      description: "The build's agents and their readiness (a start build's, once it succeeded)",
      items: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' }, readyAt: { type: ['string', 'null'] } } },
    },
    usable: { type: 'boolean', description: 'A succeeded start whose agents are all ready (for a claim: its hook ran): what GET /workspaces/:id calls usable' },
  },
});

export const replacementsSchema = presetList({
  type: 'object',
  properties: {
    buildId: { type: 'string' },
    workspaceName: { type: ['string', 'null'] },
    buildNumber: { type: 'integer' },
    claimant: { type: ['string', 'null'] },
    replacements: { type: 'object', additionalProperties: stringArray },
    at: { type: 'string' },
  },
});

export const historySchema = {
  params: uuidParam('id'),
  querystring: { type: 'object', properties: { days: { type: 'string', pattern: '^[1-7]$' } }, additionalProperties: false },
  response: {
    200: {
      type: 'object',
      properties: {
        since: { type: 'string' },
        sampleIntervalMs: { type: 'integer' },
        samples: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, desired: { type: 'integer' }, eligible: { type: 'integer' } } } },
        hits: hourlyCounts,
        misses: hourlyCounts,
      },
    },
    '4xx': errorSchema,
  },
} as const;
