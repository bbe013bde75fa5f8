import { Counter, Histogram, type Registry } from 'prom-client';

type PresetLabels = 'organization_name' | 'template_name' | 'preset_name';
export type ApiMetrics = { presetRequestDuration: Histogram<PresetLabels | 'type'>; claims: Counter<PresetLabels | 'source'> };

export function registerApiMetrics(registry: Registry): ApiMetrics {
  return {
    // Formerly warmpool_prebuilt_workspace_claim_duration_seconds: it times cold creates too (docs/OPERATIONS.md).
    presetRequestDuration: new Histogram({
      name: 'warmpool_preset_workspace_request_duration_seconds',
      help: 'Time to answer a workspace request a preset applied to (its transaction), by type: warm = a prebuild was claimed, cold = nothing eligible, a fresh build.',
      labelNames: ['organization_name', 'template_name', 'preset_name', 'type'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    claims: new Counter({
      name: 'warmpool_claims_total',
      help: 'Workspace requests a preset applied to, by where the workspace came from: hot = a running prebuild, thawed = a frozen prebuild thawed for the claim, cold = a fresh build.',
      labelNames: ['organization_name', 'template_name', 'preset_name', 'source'],
      registers: [registry],
    }),
  };
}
