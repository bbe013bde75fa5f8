import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A registry with Node's default process metrics; one per service process. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  // These gauges break the `_total` naming rule (promtool rejects them); the per-type gauges without the suffix stay.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  return registry;
}

/** What queue metrics read of a QueueSet (structural, so the runtime needs no queue library). */
type CountedQueues = { all: readonly { name: string; getJobCounts(...states: string[]): Promise<Record<string, number>> }[] };

/** Waiting/active/delayed/failed jobs per queue, read from Redis at scrape time. */
export function registerQueueMetrics(registry: Registry, queues: CountedQueues): void {
  new Gauge({
    name: 'warmpool_queue_jobs',
    help: 'Jobs per queue and state.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues.all) {
        const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'failed');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: queue.name, state }, n);
      }
    },
  });
}

/** Job outcomes and reconcile durations of a worker process. */
export function registerWorkerMetrics(registry: Registry) {
  return {
    jobs: new Counter({ name: 'warmpool_jobs_total', help: 'Jobs processed by queue and result.', labelNames: ['queue', 'result'], registers: [registry] }),
    reconcileDuration: new Histogram({
      name: 'warmpool_reconcile_duration_seconds',
      help: 'Time to reconcile one preset, by outcome and trigger (why it was asked for; unknown triggers count as other).',
      labelNames: ['outcome', 'trigger'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    creationDuration: new Histogram({
      name: 'warmpool_workspace_creation_duration_seconds',
      help: 'Time from build request to a succeeded first start build, by workspace type.',
      labelNames: ['type'],
      buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
    thawDuration: new Histogram({
      name: 'warmpool_thaw_duration_seconds',
      help: 'Time from thawing a frozen prebuild to it being usable again, by why it was thawed (refill of the hot tier, claim).',
      labelNames: ['reason'],
      buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    standbyResults: new Counter({
      name: 'warmpool_standby_results_total',
      help: 'Freezes and thaws reported by provisioners, by action and outcome.',
      labelNames: ['action', 'outcome'],
      registers: [registry],
    }),
  };
}
