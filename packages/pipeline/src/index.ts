export { OutboxRelay, withOutboxTransaction, type OutboxDeps } from './outbox-relay.js';
export { reconcilePreset, type ReconcileDeps, type ReconcileOutcome, type ReconcileSettings } from './reconcile.js';
export { evaluatePreset, toCoreSnapshot, needsWrites, type PresetView, type EvaluationSettings } from './preset-view.js';
export { startHealthServer, healthPortFromEnv, withTimeout, watchWorkerProgress, type HealthCheck } from './health.js';
export { handleBuildResult, createBuildResultsWorker, type BuildResultsDeps } from './build-results.js';
export { presetStatus, type PresetStatus } from './preset-status.js';
export { createRegistry, POOL_SAMPLES, registerPoolMetrics, registerQueueMetrics, registerWorkerMetrics } from './metrics.js';
export { screenPresets, type Screening } from './screen.js';
