import type { FastifyInstance } from 'fastify';
import { desiredTimeline, presetStatus, toCoreSnapshot } from '@warmpool/core';
import { enqueueReconcile } from '@warmpool/bus';
import { invalidatePreset, listActivePresetIds, loadPresetSnapshot, loadPresetSnapshots, resumePreset, setPaused } from '@warmpool/db';

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
  },
};

const MAX_PREVIEW_MS = 31 * 86_400_000;

export async function prebuildRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
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
      return presetStatus(row, new Date(), settingsOf(deps));
    },
  );

  app.get<{ Params: { org: string } }>(
    '/organizations/:org/presets',
    { schema: { params: orgParam, response: { 200: { type: 'array', items: statusSchema }, '4xx': errorSchema } } },
    async (request) => {
      const organizationId = await findOrganization(deps, request.principal, request.params.org);
      authorize(request.principal, 'prebuild.status.read', { organizationId });
      const ids = await listActivePresetIds(deps.pool, { organizationId });
      const now = new Date();
      return (await loadPresetSnapshots(deps.pool, ids)).map((row) => presetStatus(row, now, settingsOf(deps)));
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
