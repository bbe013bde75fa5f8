/**
 * The contracts between Warmpool's processes: queue names, priorities, payload schemas, roles and message
 * identities. No I/O and no dependency but zod, so the core, db, bus and every service can share them.
 */
export { QUEUES, BUILD_PRIORITY, JOB_NAMES, PROVISIONER_HEARTBEAT_MS, PROVISIONER_LIVE_MS, type QueueKey, type QueueName } from './queues.js';
export * from './events.js';
export { ROLES, ORGANIZATION_ROLES, SYSTEM_USERNAME, isRole, roleScopeProblem, type Role } from './roles.js';
export { DomainError, type DomainErrorCode, type ErrorDetail } from './errors.js';
export { buildRequestKey, BUILD_REQUEST_KEY_PREFIX, wakeJobId, standbyRequestKey, notificationKey, notificationEventKey, resultJobId } from './keys.js';
export { buildRequestedPayload, type BuildToAnnounce } from './messages.js';
