import type { FastifyInstance } from 'fastify';
import {
  activePresetStatuses,
  invalidatePreset,
  presetStatusOf,
  previewSchedule,
  reconcilesThrough,
  replayPreset,
  ReplayInputError,
  resumePreset,
  setReconciliationPaused,
} from '@warmpool/operations';
import { listProvisioners } from '@warmpool/db';
import { evaluationSettings } from '@warmpool/runtime';

import type { ApiDeps } from '../deps.js';
import { ApiError, notFound } from '../errors.js';
import { authorize, findOrganization, findPreset, typed } from './common.js';
import { invalidatePresetSchema, organizationPresetsSchema, pauseSchema, presetStatusSchema, provisionersSchema, replayPresetSchema, resumePresetSchema, schedulePreviewSchema } from './prebuilds.schemas.js';

export async function prebuildRoutes(fastify: FastifyInstance, deps: ApiDeps): Promise<void> {
  const app = typed(fastify);
  const ops = { pool: deps.pool, reconcile: reconcilesThrough(deps.queues, deps.logger) };
  const settings = evaluationSettings(deps.config);

  app.get('/presets/:id/status', { schema: presetStatusSchema }, async (request) => {
    const preset = await findPreset(deps, request.principal, request.params.id);
    authorize(request.principal, 'prebuild.status.read', { organizationId: preset.organization_id });
    const status = await presetStatusOf(deps.pool, settings, preset.id);
    if (!status) throw notFound('preset');
    return status;
  });

  app.get('/organizations/:org/presets', { schema: organizationPresetsSchema }, async (request) => {
    const organizationId = await findOrganization(deps, request.principal, request.params.org);
    authorize(request.principal, 'prebuild.status.read', { organizationId });
    return activePresetStatuses(deps.pool, settings, { organizationId });
  });

  // Provisioners serve every organization: site-wide readers of pool status only.
  app.get('/provisioners', { schema: provisionersSchema }, async (request) => {
    authorize(request.principal, 'prebuild.status.read', { organizationId: null });
    const rows = await listProvisioners(deps.pool);
    return rows.map((r) => ({ ...r, firstSeenAt: r.firstSeenAt.toISOString(), lastSeenAt: r.lastSeenAt.toISOString() }));
  });

  app.get('/presets/:id/schedule-preview', { schema: schedulePreviewSchema }, async (request) => {
    const preset = await findPreset(deps, request.principal, request.params.id);
    authorize(request.principal, 'prebuild.status.read', { organizationId: preset.organization_id });
    const from = request.query.from ? new Date(request.query.from) : new Date();
    const to = request.query.to ? new Date(request.query.to) : new Date(from.getTime() + 7 * 86_400_000);
    return previewSchedule(deps.pool, { presetId: preset.id, from, to });
  });

  // Dry run: what the current or a proposed policy would have done with the recorded requests. Writes nothing.
  app.post('/presets/:id/replay', { schema: replayPresetSchema }, async (request) => {
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
  });

  for (const [path, paused] of [['/prebuilds/pause', true], ['/prebuilds/resume', false]] as const) {
    app.post(path, { schema: pauseSchema }, async (request) => {
      authorize(request.principal, 'reconciliation.pause', { organizationId: null });
      await setReconciliationPaused({ pool: deps.pool, logger: request.log }, paused);
      return { paused };
    });
  }

  // Resume a hard-limited or validation-failed preset: failures before now no longer count (BEHAVIOUR.md §4.3).
  app.post('/presets/:id/resume', { schema: resumePresetSchema }, async (request) => {
    const preset = await findPreset(deps, request.principal, request.params.id);
    authorize(request.principal, 'prebuild.operate', { organizationId: preset.organization_id });
    await resumePreset(ops, preset.id);
    return { status: 'healthy' };
  });

  // Invalidate: every current prebuild of the preset counts as expired and is replaced.
  app.post('/presets/:id/invalidate', { schema: invalidatePresetSchema }, async (request) => {
    const preset = await findPreset(deps, request.principal, request.params.id);
    authorize(request.principal, 'prebuild.operate', { organizationId: preset.organization_id });
    const invalidatedAt = await invalidatePreset(ops, preset.id);
    return { invalidated_at: invalidatedAt.toISOString() };
  });
}
