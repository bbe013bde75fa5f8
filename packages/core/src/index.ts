export type * from './types.js';
export { parseCron, CronError, type CronRange } from './cron.js';
export {
  scheduleContains,
  validateSchedules,
  describeScheduleProblem,
  desiredInstancesAt,
  nextDesiredChange,
  desiredTimeline,
  isValidTimezone,
  rangesOverlap,
  TimezoneError,
} from './schedule.js';
export { planPreset, gateActions, nextWakeAt, AUTOSCALED_RECHECK_MS, isActivePreset, isStagedPreset, keepsPool, isExpired, backoffUntil, compareOldestFirst } from './plan.js';
export { computeBackoff, failureLimitReached, backoffWindow, type PopulationBuild } from './backoff.js';
export {
  validateManifest,
  parseManifestText,
  formatPath,
  ManifestSyntaxError,
  DEFAULT_MANIFEST_LIMITS,
  TTL_MIN_SECONDS,
  TTL_MAX_SECONDS,
  MAX_INSTANCES,
  type Manifest,
  type PresetManifest,
  type ParameterDeclaration,
  type ManifestLimits,
  type ManifestProblem,
  type ManifestValidation,
} from './manifest.js';
export { resolveBuildParameters, matchPreset } from './parameters.js';
export * from './sizing/index.js';
export type { PresetRecord, PresetStatusName } from './record.js';
export {
  evaluatePreset,
  toCoreSnapshot,
  parseStoredSchedules,
  storedDesiredInstances,
  reconcileNeeds,
  needsReconcile,
  type EvaluationSettings,
  type PresetView,
} from './evaluate.js';
export { presetStatus, type PresetStatus } from './status.js';
export { unstorableText } from './text.js';
export { WorkspaceSchema, parseMemory, renderWorkspaceEnv, workspaceReferences, MIN_MEMORY_BYTES, type WorkspaceSpec } from './workspace.js';
export {
  parseSurge,
  resolveSurge,
  surgeRemaining,
  decideRollout,
  isWarm,
  DEFAULT_SURGE,
  SURGE_MAX_BUILDS,
  DEFAULT_ROLLOUT_DEADLINE_SECONDS,
  ROLLOUT_DEADLINE_RANGE,
  type SurgeSpec,
  type StagedPresetProgress,
  type RolloutDecision,
  type RolloutStopReason,
} from './rollout.js';
