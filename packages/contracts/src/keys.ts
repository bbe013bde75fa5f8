import type { BuildResult, NotificationEvent } from './events.js';

/**
 * Identities of messages, written once. Outbox idempotency keys become BullMQ job ids, which may not contain ':'
 * (BullMQ reserves it), so they join their parts with '-'.
 */

/** Prefix of build-request keys; SQL that joins outbox rows to their builds takes it as a parameter. */
export const BUILD_REQUEST_KEY_PREFIX = 'build-';

/** The idempotency key (and job id) of a build's build-requested message. */
export function buildRequestKey(buildId: string): string {
  return `${BUILD_REQUEST_KEY_PREFIX}${buildId}`;
}

/** The job id of a preset's wake-up at `at`: arming the same instant twice is one job. */
export function wakeJobId(presetId: string, at: Date): string {
  return `wake-${presetId}-${at.getTime()}`;
}

/**
 * The outbox key (and job id) of a notifier event: one per status transition (its instant, epoch ms) or per claim
 * build with replacements.
 */
export function notificationKey(event: NotificationEvent): string {
  switch (event.type) {
    case 'preset-hard-limited':
    case 'preset-validation-failed':
      return `${event.type}-${event.presetId}-${new Date(event.transitionAt).getTime()}`;
    case 'resource-replacements':
      return `replacements-${event.buildId}`;
  }
}

/**
 * The notifier's stored identity of an event (notification_events), stable across redelivery. Its format predates
 * notificationKey and is kept so that stored rows keep matching; it is never a job id.
 */
export function notificationEventKey(event: NotificationEvent): string {
  switch (event.type) {
    case 'preset-hard-limited':
    case 'preset-validation-failed':
      return `${event.type}:${event.presetId}:${new Date(event.transitionAt).toISOString()}`;
    case 'resource-replacements':
      return `${event.type}:${event.buildId}`;
  }
}

/**
 * The job id of a provisioner result: fixed per fact, so reporting the same fact twice (a redelivered request, a
 * restart) is a no-op on the queue.
 */
export function resultJobId(result: BuildResult): string {
  switch (result.type) {
    case 'agent-ready':
      return `agent-ready-${result.buildId}-${result.agent}`;
    case 'workspace-lost':
      return `workspace-lost-${result.workspaceId}-${result.incident}`;
    default:
      return `${result.type}-${result.buildId}`;
  }
}
