import { Histogram, type Registry } from 'prom-client';

export type ApiMetrics = { claimDuration: Histogram<'organization_name' | 'template_name' | 'preset_name'> };

export function registerApiMetrics(registry: Registry): ApiMetrics {
  return {
    claimDuration: new Histogram({
      name: 'warmpool_prebuilt_workspace_claim_duration_seconds',
      help: 'Time to claim a prebuilt workspace (the claim transaction).',
      labelNames: ['organization_name', 'template_name', 'preset_name'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
  };
}
