import type { PresetRecord } from '../src/index.js';

/** A fixed instant and evaluation settings for record-level tests. */
export const NOW = new Date('2026-03-02T10:30:00Z');
export const SETTINGS = { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3 };

/** A healthy, active preset wanting 2 with 2 ready prebuilds; override any part. */
export function record(overrides: { preset?: Partial<PresetRecord['preset']>; running?: PresetRecord['running']; population?: PresetRecord['population'] } = {}): PresetRecord {
  return {
    preset: {
      id: 'p1', name: 'small', instances: 2, ttlSeconds: null, timezone: '', schedules: [], parameters: {}, status: 'healthy',
      statusChangedAt: null, scheduleError: null, autoscaling: null, autoscalingError: null, templateVersionId: 'v1', versionName: 'v1', declarations: [], templateId: 't1',
      templateName: 'web', templateDeleted: false, templateDeprecated: false, usingActiveVersion: true, organizationId: 'o1',
      organizationName: 'acme', ...overrides.preset,
    },
    paused: false,
    running: overrides.running ?? [
      { id: 'a', createdAt: new Date(NOW.getTime() - 60_000), ready: true, invalidated: false },
      { id: 'b', createdAt: new Date(NOW.getTime() - 30_000), ready: true, invalidated: false },
    ],
    inProgress: [],
    population: overrides.population ?? [],
  };
}
