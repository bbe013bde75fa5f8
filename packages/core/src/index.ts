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
export { planPreset, gateActions, nextWakeAt, AUTOSCALED_RECHECK_MS, isActivePreset, isExpired, backoffUntil, compareOldestFirst } from './plan.js';
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
export { resolveBuildParameters, parameterValueProblem, matchPreset, type ResolvedParameters } from './parameters.js';
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
export { WorkspaceSchema, parseMemory, renderWorkspaceEnv, workspaceReferences, MIN_MEMORY_BYTES, MAX_PIDS, type WorkspaceSpec } from './workspace.js';
export {
  HISTORY_LIMIT,
  MIN_SAMPLES,
  MAX_WAIT_BUDGET_MS,
  RESERVE_CONFIDENCE,
  CLAIM_MODES,
  boundHistory,
  chooseHistory,
  remainingTimes,
  probabilityUsableWithin,
  predictRemainingMs,
  predictColdMs,
  decideClaim,
  retryAfterSeconds,
  type ClaimMode,
  type ClaimSource,
  type DurationSample,
  type HistoryLevel,
  type ChosenHistory,
  type InflightPrebuild,
  type ClaimDecision,
  type ClaimDecisionInput,
} from './readiness.js';
