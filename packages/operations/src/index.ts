/**
 * The domain flows, shared by the services, the API and the CLI: reconcile and screen presets, apply build results,
 * relay the outbox, and the operator and user operations (workspaces, templates, pause, roles, preview).
 */
export { OutboxRelay, withOutboxTransaction, type OutboxDeps } from './outbox-relay.js';
export { ensureSlots, reconcilePreset, reconcilePresets, ReconcileBatcher, type ReconcileDeps, type ReconcileOptions, type ReconcileOutcome, type ReconcileSettings } from './reconcile.js';
export { handleBuildResult, createBuildResultsWorker, type BuildResultOutcome, type BuildResultsDeps } from './build-results.js';
export { registerPoolMetrics } from './pool-metrics.js';
export { poolHistoryRecorder, POOL_SAMPLES } from './pool-history.js';
export { screenPresets, type Screening } from './screen.js';
export { sizePoolRows } from './sizing.js';
export { offload, stopOffload, OFFLOAD_BUDGET_MS } from './offload/pool.js';
export { replayPreset, ReplayInputError, MAX_REPLAY_DAYS, type PresetReplay, type ReplayRequest } from './replay.js';
export { reconcilesThrough, type TriggerReconciles } from './reconciles.js';
export { claimTargetKey, createWorkspace, deleteWorkspace, type WorkspaceDeps, type CreateWorkspaceInput, type CreateWorkspaceResult } from './workspaces.js';
export { importVersion, activateVersion, retireTemplate, checkManifest, checkManifestOffLoop, dryRunManifest, type TemplateDeps, type ImportVersionInput, type ImportVersionResult } from './templates.js';
export {
  presetStatusOf,
  activePresetStatuses,
  previewSchedule,
  setReconciliationPaused,
  resumePreset,
  invalidatePreset,
  MAX_PREVIEW_DAYS,
} from './presets.js';
export { grantUserRole, assertGrantableUsername, assertRoleScope } from './users.js';
export { reconcileStandby } from './standby.js';
export {
  advanceRollout,
  checkRolloutOptions,
  endRolloutNow,
  rolloutProgress,
  stageVersion,
  type RolloutDeps,
  type RolloutOptions,
  type RolloutProgress,
  type StagedPresetStatus,
} from './rollouts.js';
