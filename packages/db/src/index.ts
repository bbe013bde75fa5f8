export { migrate } from './migrate.js';
export { createPool, withTransaction, type Pool, type PoolClient } from './pool.js';
export { SYSTEM_USER_ID } from './constants.js';
export { insertOutbox, lockPendingOutbox, markOutboxPublished, pruneOutbox, type OutboxMessage, type PendingOutboxRow } from './outbox.js';
export { loadPresetSnapshot, POPULATION_LIMIT, type PresetSnapshotRow } from './snapshot.js';
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
