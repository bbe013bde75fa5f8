export { migrate } from './migrate.js';
export { createPool, withTransaction, ping, type Pool, type PoolClient } from './pool.js';
export { recreateDatabase } from './admin.js';
export { SYSTEM_USER_ID } from './constants.js';
export { buildRequestedMessage, notificationMessage, insertOutbox, lockPendingOutbox, setOutboxTraceparent, markOutboxPublished, pruneOutbox, requeueStaleBuildRequests, requeueUnrecordedNotificationEvents, type OutboxMessage, type PendingOutboxRow } from './outbox.js';
export { loadPresetSnapshot, loadPresetSnapshots, POPULATION_LIMIT, type PresetSnapshotRow } from './snapshot.js';
export {
  lockPreset,
  lockFreePresets,
  insertPrebuildsBatch,
  type PrebuildBatchItem,
  insertDeleteBuilds,
  insertPrebuilds,
  insertFailedPrebuild,
  transitionPresetStatus,
  setScheduleError,
  presetsNeedingAttention,
  prebuildName,
  type NewBuild,
  type PrebuildTarget,
} from './reconcile-queries.js';
export { ensureInflightSlots, claimInflightSlots, clearPrebuildDemand, registerPrebuildDemand, claimSlotsForBatch, presetsNextInLine, inflightCreates, DEMAND_FRESH_MS, type SlotRequest } from './inflight-slots.js';
export { applyBuildResult, type AppliedResult } from './build-results.js';
export { applyWorkspaceLost, type LostOutcome } from './workspace-lost.js';
export {
  loadStandbyPool,
  provisionersDeclare,
  listProvisioners,
  recordProvisionerSeen,
  requestStandby,
  applyStandbyDone,
  standbyCounts,
  lockStandby,
  type StandbyPoolRow,
  type ProvisionerRow,
} from './standby.js';
export { loadBuildTarget, loadLiveWorkspaces, type BuildTarget, type WorkspaceLiveness } from './provisioner-queries.js';
export { listNotifications, markNotificationRead, NotificationQueryError, INBOX_MAX_LIMIT, type InboxItem, type InboxPage } from './notification-inbox.js';
export {
  loadNotificationContext,
  findRecipients,
  recordNotificationEvent,
  type SendChannel,
  type PendingSend,
  type DeliveryStatus,
  type NotificationLink,
  type NotificationContext,
  type Recipient,
  type RenderedMessage,
  type NewInboxRow,
  type RecordedEvent,
  type EventToRecord,
} from './notification-events.js';
export { loadDelivery, recordDeliveryAttempt, loadSend, recordSendAttempt, type AttemptOutcome, type SendToPerform, type DeliveryToSend } from './notification-deliveries.js';
export {
  listNotificationPreferences,
  setNotificationPreference,
  listKindSettings,
  setKindDisabled,
  rotateOrganizationSecret,
  finishSecretRotation,
  setOrganizationChatWebhook,
  PREFERENCE_CHANNELS,
  type PreferenceChannel,
  type NotificationPreference,
  type KindSetting,
} from './notification-settings.js';
export {
  importTemplateVersion,
  activateVersion,
  VersionExistsError,
  findTemplate,
  findTemplateByName,
  createTemplate,
  ensureTemplate,
  listTemplates,
  versionBelongsTo,
  retireTemplate,
  loadClaimTarget,
  loadOrganizationClaimTarget,
  type ManifestToStore,
  type TemplateRow,
  type TemplateSummary,
  type ClaimTarget,
} from './templates.js';
export { findPreset, listActivePresetIds, listVersionPresets, listTemplatePresetIds, resumePreset, invalidatePreset, type PresetRow } from './presets.js';
export { findOrganizationId, ensureOrganization, InvalidOrganizationNameError } from './organizations.js';
export { isPaused, setPaused } from './settings.js';
export { bumpPresetCounter, type PresetCounter } from './counters.js';
export { loadPoolRows, type PoolRow } from './pool-metrics.js';
export { createApiToken, hashToken } from './auth.js';
export { USERNAME_PATTERN, TEMPLATE_NAME_PATTERN } from './auth.js';
export { ensureUser, grantRole, findUserId, setUserEmail, userExists, userRoles, findPrincipalByTokenHash, type RoleName, type Principal } from './users.js';
export {
  getWorkspace,
  claimPrebuild,
  createFreshWorkspace,
  requestWorkspaceDelete,
  requestBuild,
  updateWorkspaceLifecycle,
  WorkspaceNameTakenError,
  type WorkspaceRow,
} from './workspaces.js';
export {
  loadDemandSummaries,
  loadDemandTrace,
  pruneDemand,
  setAutoscalingError,
  loadActivePoolShapes,
  DEMAND_RETENTION_MS,
  DEMAND_HISTORY_DAYS,
  type DemandSummary,
  type DemandTraceEvent,
} from './demand.js';
export {
  listOrganizations,
  latestPresetBuilds,
  presetReplacements,
  recordPoolSamples,
  presetHistory,
  type OrganizationRow,
  type PresetBuild,
  type ReplacementNotice,
  type PoolSample,
  type PoolHistory,
} from './pool-views.js';
export {
  insertRollout,
  loadRollout,
  listRollouts,
  findStagedRollout,
  lockStagedRollout,
  lockStagedRollouts,
  stagedSiblings,
  loadStagedPresets,
  endRollout,
  latestRolloutStates,
  type RolloutRow,
  type RolloutState,
  type StagedPresetRow,
} from './rollouts.js';
