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
export { planPreset, gateActions, nextWakeAt, AUTOSCALED_RECHECK_MS, isActivePreset, isStagedPreset, keepsPool, isExpired, backoffUntil, compareOldestFirst } from './plan.js';
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
export {
  checkStandby,
  planStandby,
  standbyStatus,
  FREEZE_CAPABILITY,
  STANDBY_RETRY_MS,
  type StandbyManifest,
  type StandbyPrebuild,
  type StandbyInput,
  type StandbyPlan,
  type StandbyRequest,
  type StandbyStatus,
  type StandbyFacts,
} from './standby.js';
export { planWrites, needsPresetLock, NOTICE_TEXT_LIMIT, type Write, type Notice } from './writes.js';
export { presetStatus, type PresetStatus } from './status.js';
export { unstorableText, clip } from './text.js';
export { WorkspaceSchema, parseMemory, renderWorkspaceEnv, workspaceReferences, MIN_MEMORY_BYTES, MAX_PIDS, type WorkspaceSpec } from './workspace.js';
export { workspaceReadiness, type AgentState, type LatestBuildState, type Readiness, type ClaimHookStatus } from './readiness.js';
export { planNotification, type SendChannel, type ChannelChoices, type NewRecipientRow, type PlannedSend, type NotificationPlan, type NotificationPlanInput } from './notifications.js';
export {
  parseSurge,
  resolveSurge,
  surgeRemaining,
  shareSurge,
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
