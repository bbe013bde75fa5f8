export type * from './types.js';
export { parseCron, CronError, MAX_CRON_LENGTH, type CronRange } from './cron.js';
export {
  scheduleContains,
  validateSchedules,
  describeScheduleProblem,
  desiredInstancesAt,
  scheduleEvaluator,
  scheduleCacheSizes,
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
  MAX_REPORTED_PROBLEMS,
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
  type EvaluationSettings,
  type PresetView,
} from './evaluate.js';
export { planWrites, needsPresetLock, NOTICE_TEXT_LIMIT, type Write, type Notice } from './writes.js';
export { presetStatus, type PresetStatus } from './status.js';
export { unstorableText, clip } from './text.js';
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
