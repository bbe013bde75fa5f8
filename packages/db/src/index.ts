export { migrate } from './migrate.js';
export { createPool, withTransaction, type Pool, type PoolClient } from './pool.js';
export { SYSTEM_USER_ID } from './constants.js';
export { insertOutbox, lockPendingOutbox, markOutboxPublished, pruneOutbox, requeueStaleBuildRequests, type OutboxMessage, type PendingOutboxRow } from './outbox.js';
export { loadPresetSnapshot, loadPresetSnapshots, POPULATION_LIMIT, type PresetSnapshotRow } from './snapshot.js';
export {
  lockPreset,
  reserveInflightSlots,
  insertDeleteBuilds,
  insertPrebuilds,
  insertFailedPrebuild,
  transitionPresetStatus,
  setScheduleError,
  presetsNeedingAttention,
  prebuildName,
  INFLIGHT_CAP_LOCK_KEY,
  type NewBuild,
  type PrebuildTarget,
} from './reconcile-queries.js';
export { applyBuildResult, type AppliedResult, type ResultInput } from './build-results.js';
export {
  listNotifications,
  markNotificationRead,
  NotificationQueryError,
  INBOX_MAX_LIMIT,
  loadNotificationContext,
  findRecipients,
  recordNotificationEvent,
  loadDelivery,
  recordDeliveryAttempt,
  type InboxItem,
  type InboxPage,
  type DeliveryStatus,
  type NotificationLink,
  type NotificationContext,
  type Recipient,
  type RenderedMessage,
  type NewInboxRow,
  type RecordedEvent,
  type EventToRecord,
  type DeliveryToSend,
} from './notifications.js';
export { importTemplateVersion, activateVersion, VersionExistsError, type ManifestToStore } from './templates.js';
export { createApiToken, hashToken } from './auth.js';
export { ensureUser, grantRole, USERNAME_PATTERN, TEMPLATE_NAME_PATTERN, type RoleName } from './auth.js';
export {
  getWorkspace,
  claimPrebuild,
  createFreshWorkspace,
  requestWorkspaceDelete,
  requestBuild,
  findPrincipalByTokenHash,
  WorkspaceNameTakenError,
  type WorkspaceRow,
  type Principal,
} from './workspaces.js';
export {
  loadDemandSummaries,
  loadDemandTrace,
  pruneDemand,
  setAutoscalingError,
  DEMAND_RETENTION_MS,
  DEMAND_HISTORY_DAYS,
  type DemandSummary,
  type DemandTraceEvent,
} from './demand.js';
