/** Every BullMQ queue Warmpool uses. One place, so producers and consumers agree. */
export const QUEUES = {
  /** Per-preset reconcile jobs (dedup id = preset id), plus delayed wake-ups. */
  reconcile: 'reconcile',
  /** Cluster-wide periodic tick (one job scheduler). */
  schedulerTick: 'scheduler-tick',
  /** build-requested events for provisioners; priorities: human > delete > create. */
  buildRequests: 'build-requests',
  /** build-started / build-succeeded / build-failed / agent-ready reported by provisioners. */
  buildResults: 'build-results',
  /** Domain events for the notifier: preset-hard-limited, preset-validation-failed, resource-replacements, rollout-stopped. */
  notifications: 'notifications',
  /** One job per (notification, webhook) delivery attempt series. */
  webhookDeliveries: 'webhook-deliveries',
  /** One job per e-mail (per recipient) or chat post (per event), retried and dead-lettered on its own. */
  notificationSends: 'notification-sends',
} as const;

export type QueueKey = keyof typeof QUEUES;
export type QueueName = (typeof QUEUES)[QueueKey];

/** BullMQ priorities: lower runs first. */
export const BUILD_PRIORITY = { human: 1, delete: 2, create: 3 } as const;

/** Job names of the messages carried on the queues. */
export const JOB_NAMES = { buildRequested: 'build-requested', standbyRequested: 'standby-requested', reconcile: 'reconcile', wake: 'wake' } as const;

/** A provisioner reports itself this often; one not seen for PROVISIONER_LIVE_MS no longer counts (docs/PROVISIONERS.md). */
export const PROVISIONER_HEARTBEAT_MS = 30_000;
export const PROVISIONER_LIVE_MS = 90_000;
