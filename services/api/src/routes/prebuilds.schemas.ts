import { PROVISIONER_CAPABILITIES } from '@warmpool/contracts';
import { MAX_REPLAY_DAYS } from '@warmpool/operations';
import { errorSchema, orgParam, uuidParam } from './common.js';

/** The JSON schemas of the prebuild routes (request types are inferred from them: keep them `as const`). */

const status = {
  type: 'object',
  properties: {
    presetId: { type: 'string' },
    organization: { type: 'string' },
    template: { type: 'string' },
    version: { type: 'string' },
    preset: { type: 'string' },
    active: { type: 'boolean' },
    staged: { type: 'boolean', description: 'warming in a staged rollout: reconciled, never claimed' },
    rolloutDeadline: { type: ['string', 'null'], description: "the staged rollout's deadline (staged presets)" },
    desiredNow: { type: 'integer' },
    running: { type: 'integer' },
    eligible: { type: 'integer' },
    starting: { type: 'integer' },
    expired: { type: 'integer' },
    failed: { type: 'integer' },
    status: { type: 'string' },
    backoffUntil: { type: ['string', 'null'] },
    nextScheduleChange: { type: ['object', 'null'], properties: { at: { type: 'string' }, instances: { type: 'integer' } } },
    scheduleError: { type: ['string', 'null'] },
    paused: { type: 'boolean' },
    targetSource: { type: 'string', enum: ['scheduled', 'expression', 'expression_fallback', 'forecast'] },
    autoscalingError: { type: ['string', 'null'] },
    forecastRate: { type: ['number', 'null'] },
    hitRate24h: { type: ['number', 'null'] },
    hitRate7d: { type: ['number', 'null'] },
    requests24h: { type: 'integer' },
    standby: {
      type: ['object', 'null'],
      description: 'Standby tiers: the hot target now, eligible prebuilds hot and frozen, and why the standby runs hot when it does (degraded). Null without tiers.',
      properties: { hotTarget: { type: 'integer' }, hot: { type: 'integer' }, frozen: { type: 'integer' }, degraded: { type: ['string', 'null'] } },
    },
  },
} as const;


const counts = { requests: { type: 'integer' }, hits: { type: 'integer' }, misses: { type: 'integer' }, hitRate: { type: ['number', 'null'] } } as const;
const replay = {
  type: 'object',
  properties: {
    presetId: { type: 'string' },
    policy: { type: 'string', enum: ['current', 'proposed'] },
    from: { type: 'string' },
    to: { type: 'string' },
    leadTimeSeconds: { type: 'number' },
    recorded: { type: 'object', properties: counts },
    totals: { type: 'object', properties: { ...counts, prebuildHours: { type: 'number' } } },
    sources: { type: 'object', additionalProperties: { type: 'integer' } },
    hours: {
      type: 'array',
      items: { type: 'object', properties: { hour: { type: 'string' }, desired: { type: 'integer' }, ...counts, prebuildHours: { type: 'number' } } },
    },
  },
} as const;

export const presetStatusSchema = { params: uuidParam('id'), response: { 200: status, '4xx': errorSchema } } as const;

export const organizationPresetsSchema = { params: orgParam, response: { 200: { type: 'array', items: status }, '4xx': errorSchema } } as const;

export const schedulePreviewSchema = {
  params: uuidParam('id'),
  querystring: { type: 'object', properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } }, additionalProperties: false },
  response: { 200: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, instances: { type: 'integer' } } } }, '4xx': errorSchema },
} as const;

export const replayPresetSchema = {
  params: uuidParam('id'),
  body: {
    type: 'object',
    properties: { days: { type: 'integer', minimum: 1, maximum: MAX_REPLAY_DAYS }, prebuilds: { type: 'object' } },
    additionalProperties: false,
  },
  // 422 too_large past the replay's time budget, 503 busy when the worker queue is full (BEHAVIOUR.md §7).
  response: { 200: replay, '4xx': errorSchema, 503: errorSchema },
} as const;

export const pauseSchema = { response: { 200: { type: 'object', properties: { paused: { type: 'boolean' } } }, '4xx': errorSchema } } as const;

export const resumePresetSchema = { params: uuidParam('id'), response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, '4xx': errorSchema } } as const;

export const invalidatePresetSchema = { params: uuidParam('id'), response: { 200: { type: 'object', properties: { invalidated_at: { type: 'string' } } }, '4xx': errorSchema } } as const;

const provisioner = {
  type: 'object',
  properties: {
    identity: { type: 'string' },
    capabilities: { type: 'array', items: { type: 'string', enum: PROVISIONER_CAPABILITIES }, description: 'What it declares it can do beyond builds (docs/PROVISIONERS.md); Warmpool asks only for capabilities every live provisioner declares.' },
    firstSeenAt: { type: 'string', format: 'date-time' },
    lastSeenAt: { type: 'string', format: 'date-time' },
    live: { type: 'boolean', description: 'Seen within the last 90 s (it reports itself every 30 s).' },
  },
} as const;

export const provisionersSchema = { response: { 200: { type: 'array', items: provisioner }, '4xx': errorSchema } } as const;
