import type { FastifyInstance } from 'fastify';
import { desiredTimeline, presetStatus, toCoreSnapshot } from '@warmpool/core';
import { enqueueReconcile } from '@warmpool/bus';
import { invalidatePreset, listActivePresetIds, loadDemandSummaries, loadPresetSnapshot, loadPresetSnapshots, resumePreset, setPaused, type PresetSnapshotRow } from '@warmpool/db';
import { MAX_REPLAY_DAYS, replayPreset, ReplayInputError } from '@warmpool/operations';

import type { ApiDeps } from '../app.js';
import { ApiError, notFound } from '../errors.js';
import { authorize, errorSchema, findOrganization, findPreset, orgParam, settingsOf, uuidParam } from './common.js';

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
};

const MAX_PREVIEW_MS = 31 * 86_400_000;

const counts = { requests: { type: 'integer' }, hits: { type: 'integer' }, misses: { type: 'integer' }, hitRate: { type: ['number', 'null'] } };
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
};

export async function prebuildRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  /** Status of loaded snapshots with their demand (hit rates, autoscaled targets): one more query for all of them. */
  const statuses = async (rows: PresetSnapshotRow[]) => {
    const now = new Date();
    const demand = new Map((await loadDemandSummaries(deps.pool, rows.map((r) => r.preset.id), now)).map((d) => [d.presetId, d]));
    return rows.map((row) => presetStatus(row, now, settingsOf(deps), demand.get(row.preset.id)));
  };
  const reconcile = (presetId: string, trigger: string) =>
    enqueueReconcile(deps.queues.reconcile, presetId, trigger).catch((err: unknown) => deps.logger.warn({ err }, 'could not trigger a reconcile; the next tick will'));

  app.get<{ Params: { id: string } }>(
    '/presets/:id/status',
    { schema: { params: uuidParam('id'), response: { 200: statusSchema, '4xx': errorSchema } } },
    async (request) => {
      const preset = await findPreset(deps, request.principal, request.params.id);
      authorize(request.principal, 'prebuild.status.read', { organizationId: preset.organization_id });
      const row = await loadPresetSnapshot(deps.pool, preset.id);
      if (!row) throw notFound('preset');
      return (await statuses([row]))[0];
    },
  );

  app.get<{ Params: { org: string } }>(
    '/organizations/:org/presets',
    { schema: { params: orgParam, response: { 200: { type: 'array', items: statusSchema }, '4xx': errorSchema } } },
    async (request) => {
      const organizationId = await findOrganization(deps, request.principal, request.params.org);
      authorize(request.principal, 'prebuild.status.read', { organizationId });
      const ids = await listActivePresetIds(deps.pool, { organizationId });
      return statuses(await loadPresetSnapshots(deps.pool, ids));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { from?: string; to?: string } }>(
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
      if (to <= from) throw new ApiError(400, 'validation_failed', '`to` must be after `from`', [{ path: 'querystring.to', message: 'must be after from' }]);
      if (to.getTime() - from.getTime() > MAX_PREVIEW_MS) throw new ApiError(400, 'validation_failed', 'the window is at most 31 days', [{ path: 'querystring.to', message: 'window longer than 31 days' }]);
      const row = await loadPresetSnapshot(deps.pool, preset.id);
      if (!row) throw notFound('preset');
      const { snapshot } = toCoreSnapshot(row, from, settingsOf(deps));
      return desiredTimeline(snapshot.preset, from, to).map((p) => ({ at: p.at.toISOString(), instances: p.instances }));
    },
  );

  // Dry run: what the current or a proposed policy would have done with the recorded requests. Writes nothing.
  app.post<{ Params: { id: string }; Body: { days?: number; prebuilds?: Record<string, unknown> } }>(
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
      authorize(request.principal, 'prebuild.status.read', { organizationId: preset.organization_id });
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
      await setPaused(deps.pool, paused);
      request.log.info({ paused }, 'site-wide reconciliation pause changed');
      return { paused };
    });
  }

  // Resume a hard-limited or validation-failed preset: failures before now no longer count (SPEC §4.3).
  app.post<{ Params: { id: string } }>(
    '/presets/:id/resume',
    { schema: { params: uuidParam('id'), response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, '4xx': errorSchema } } },
    async (request) => {
      const preset = await findPreset(deps, request.principal, request.params.id);
      authorize(request.principal, 'prebuild.operate', { organizationId: preset.organization_id });
      await resumePreset(deps.pool, preset.id);
      await reconcile(preset.id, 'preset-resumed');
      return { status: 'healthy' };
    },
  );

  // Invalidate: every current prebuild of the preset counts as expired and is replaced.
  app.post<{ Params: { id: string } }>(
    '/presets/:id/invalidate',
    { schema: { params: uuidParam('id'), response: { 200: { type: 'object', properties: { invalidated_at: { type: 'string' } } }, '4xx': errorSchema } } },
    async (request) => {
      const preset = await findPreset(deps, request.principal, request.params.id);
      authorize(request.principal, 'prebuild.operate', { organizationId: preset.organization_id });
      const invalidatedAt = await invalidatePreset(deps.pool, preset.id);
      await reconcile(preset.id, 'preset-invalidated');
      return { invalidated_at: invalidatedAt.toISOString() };
    },
  );
}
