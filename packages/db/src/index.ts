export { migrate } from './migrate.js';
export { createPool, withTransaction, type Pool, type PoolClient } from './pool.js';
export { SYSTEM_USER_ID } from './constants.js';
export { insertOutbox, lockPendingOutbox, markOutboxPublished, pruneOutbox, type OutboxMessage, type PendingOutboxRow } from './outbox.js';
