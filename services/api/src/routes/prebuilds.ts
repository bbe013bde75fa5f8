import type { FastifyInstance } from 'fastify';
import {
  activePresetStatuses,
  invalidatePreset,
  MAX_REPLAY_DAYS,
  presetStatusOf,
  previewSchedule,
  reconcilesThrough,
  replayPreset,
  ReplayInputError,
  resumePreset,
  setReconciliationPaused,
} from '@warmpool/operations';
import { evaluationSettings } from '@warmpool/runtime';

import type { ApiDeps } from '../deps.js';
import { ApiError, notFound } from '../errors.js';
import { authorize, errorSchema, findOrganization, findPreset, orgParam, typed, uuidParam } from './common.js';

const statusSchema = {
  type: 'object',
  properties: {
    presetId: { type: 'string' },
    organization: { type: 'string' },
    template: { type: 'string' },
    version: { type: 'string' },
    preset: { type: 'string' },
    active: { type: 'boolean' },
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
  },
} as const;


const counts = { requests: { type: 'integer' }, hits: { type: 'integer' }, misses: { type: 'integer' }, hitRate: { type: ['number', 'null'] } } as const;
const replaySchema = {
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

export async function prebuildRoutes(fastify: FastifyInstance, deps: ApiDeps): Promise<void> {
  const app = typed(fastify);
  const ops = { pool: deps.pool, reconcile: reconcilesThrough(deps.queues, deps.logger) };
  const settings = evaluationSettings(deps.config);

  app.get(
    '/presets/:id/status',
    { schema: { params: uuidParam('id'), response: { 200: statusSchema, '4xx': errorSchema } } },
    async (request) => {
      const preset = await findPreset(deps, request.principal, request.params.id);
      authorize(request.principal, 'prebuild.status.read', { organizationId: preset.organization_id });
      const status = await presetStatusOf(deps.pool, settings, preset.id);
      if (!status) throw notFound('preset');
      return status;
    },
  );

  app.get(
    '/organizations/:org/presets',
    { schema: { params: orgParam, response: { 200: { type: 'array', items: statusSchema }, '4xx': errorSchema } } },
    async (request) => {
      const organizationId = await findOrganization(deps, request.principal, request.params.org);
      authorize(request.principal, 'prebuild.status.read', { organizationId });
      return activePresetStatuses(deps.pool, settings, { organizationId });
    },
  );

  app.get(
    '/presets/:id/schedule-preview',
    {
      schema: {
        params: uuidParam('id'),
        querystring: { type: 'object', properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } }, additionalProperties: false },
        response: { 200: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, instances: { type: 'integer' } } } }, '4xx': errorSchema },
      },
    },
    async (request) => {
      const preset = await findPreset(deps, request.principal, request.params.id);
      authorize(request.principal, 'prebuild.status.read', { organizationId: preset.organization_id });
      const from = request.query.from ? new Date(request.query.from) : new Date();
      const to = request.query.to ? new Date(request.query.to) : new Date(from.getTime() + 7 * 86_400_000);
      return previewSchedule(deps.pool, { presetId: preset.id, from, to });
    },
  );

  // Dry run: what the current or a proposed policy would have done with the recorded requests. Writes nothing.
  app.post(
    '/presets/:id/replay',
    {
      schema: {
        params: uuidParam('id'),
        body: {
          type: 'object',
          properties: { days: { type: 'integer', minimum: 1, maximum: MAX_REPLAY_DAYS }, prebuilds: { type: 'object' } },
          additionalProperties: false,
        },
        response: { 200: replaySchema, '4xx': errorSchema },
      },
    },
    async (request) => {
      const preset = await findPreset(deps, request.principal, request.params.id);
      authorize(request.principal, 'prebuild.replay', { organizationId: preset.organization_id });
      const body = request.body ?? {};
      try {
        const result = await replayPreset(deps.pool, preset.id, { days: body.days ?? 7, ...(body.prebuilds !== undefined ? { prebuilds: body.prebuilds } : {}) });
        if (!result) throw notFound('preset');
        return result;
      } catch (err) {
        if (err instanceof ReplayInputError) {
          throw new ApiError(400, 'validation_failed', err.message, err.details.map((d) => ({ path: `body.${d.path}`, message: d.message })));
        }
        throw err;
      }
    },
  );

  for (const [path, paused] of [['/prebuilds/pause', true], ['/prebuilds/resume', false]] as const) {
    app.post(path, { schema: { response: { 200: { type: 'object', properties: { paused: { type: 'boolean' } } }, '4xx': errorSchema } } }, async (request) => {
      authorize(request.principal, 'reconciliation.pause', { organizationId: null });
      await setReconciliationPaused({ pool: deps.pool, logger: request.log }, paused);
      return { paused };
    });
  }

  // Resume a hard-limited or validation-failed preset: failures before now no longer count (SPEC §4.3).
  app.post(
    '/presets/:id/resume',
    { schema: { params: uuidParam('id'), response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, '4xx': errorSchema } } },
    async (request) => {
      const preset = await findPreset(deps, request.principal, request.params.id);
      authorize(request.principal, 'prebuild.operate', { organizationId: preset.organization_id });
      await resumePreset(ops, preset.id);
      return { status: 'healthy' };
    },
  );

  // Invalidate: every current prebuild of the preset counts as expired and is replaced.
  app.post(
    '/presets/:id/invalidate',
    { schema: { params: uuidParam('id'), response: { 200: { type: 'object', properties: { invalidated_at: { type: 'string' } } }, '4xx': errorSchema } } },
    async (request) => {
      const preset = await findPreset(deps, request.principal, request.params.id);
      authorize(request.principal, 'prebuild.operate', { organizationId: preset.organization_id });
      const invalidatedAt = await invalidatePreset(ops, preset.id);
      return { invalidated_at: invalidatedAt.toISOString() };
    },
  );
}
