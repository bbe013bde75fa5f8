import { z } from 'zod';

/** Payload schemas of every event on the queues; validated by producers and consumers alike. */

const uuid = z.uuid();
const isoDate = z.iso.datetime({ offset: true });

/**
 * Why a reconcile was asked for: carried to the reconciler's `reconciled` log line and, as the `trigger` label of
 * warmpool_reconcile_duration_seconds, kept to this bounded set.
 */
export const RECONCILE_TRIGGERS = [
  'tick',
  'timer',
  'inflight-cap',
  'slot-free',
  'claim',
  'build-finished',
  'agent-ready',
  'workspace-lost',
  'preset-resumed',
  'preset-invalidated',
  'version-activated',
  'template-deprecated',
  'template-deleted',
  // A reserved prebuild's wait budget ran out: the reconciler falls back overdue reservations first (issue 24).
  'reservation-deadline',
] as const;
export type ReconcileTrigger = (typeof RECONCILE_TRIGGERS)[number];

/** The metric label of a job's trigger: itself when known, else `other` (a job from a newer or older producer). */
export function reconcileTriggerLabel(trigger: string): ReconcileTrigger | 'other' {
  return (RECONCILE_TRIGGERS as readonly string[]).includes(trigger) ? (trigger as ReconcileTrigger) : 'other';
}

export const ReconcileJob = z.strictObject({
  presetId: uuid,
  /** A ReconcileTrigger; any short string is accepted so that jobs of other versions are still reconciled. */
  trigger: z.string().min(1).max(64),
});
export type ReconcileJob = z.infer<typeof ReconcileJob>;

export const BuildReason = z.enum(['prebuild-create', 'prebuild-delete', 'claim', 'user']);
export type BuildReason = z.infer<typeof BuildReason>;

export const BuildRequested = z.strictObject({
  buildId: uuid,
  workspaceId: uuid,
  transition: z.enum(['start', 'stop', 'delete']),
  templateVersionId: uuid,
  presetId: uuid.nullable(),
  parameters: z.record(z.string(), z.string()),
  reason: BuildReason,
  idempotencyKey: z.string().min(1).max(200),
});
export type BuildRequested = z.infer<typeof BuildRequested>;

/** `{ resource address: [attribute paths] }` reported by a claim build that replaced resources. */
export const Replacements = z.record(z.string().min(1), z.array(z.string().min(1)).min(1));

export const BuildResult = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('build-started'), buildId: uuid, at: isoDate }),
  z.strictObject({
    type: z.literal('build-succeeded'),
    buildId: uuid,
    at: isoDate,
    agents: z.array(z.strictObject({ name: z.string().min(1).max(64), ready: z.boolean() })).max(64),
    replacements: Replacements.optional(),
  }),
  z.strictObject({
    type: z.literal('build-failed'),
    buildId: uuid,
    at: isoDate,
    error: z.string().max(4096),
    retryable: z.boolean(),
  }),
  z.strictObject({ type: z.literal('agent-ready'), buildId: uuid, agent: z.string().min(1).max(64), at: isoDate }),
  /** The provisioner stopped the build on request (an overtaking delete, an inactive version): never a failure. */
  z.strictObject({ type: z.literal('build-canceled'), buildId: uuid, at: isoDate, reason: z.string().max(4096) }),
  /**
   * A workspace's resources vanished outside Warmpool (container killed or removed). `incident` identifies the
   * loss (e.g. the container id), so a repeated report is one job. A lost prebuild is deleted and replaced.
   */
  z.strictObject({
    type: z.literal('workspace-lost'),
    workspaceId: uuid,
    incident: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
    at: isoDate,
    reason: z.string().max(4096),
  }),
]);
export type BuildResult = z.infer<typeof BuildResult>;
/** A result about one build (every type but workspace-lost, which is about a workspace). */
export type ResultOfBuild = Exclude<BuildResult, { type: 'workspace-lost' }>;

/** The job statuses that end a build: no result moves it further, and a create's in-flight slot is freed. */
export const TERMINAL_JOB_STATUSES = ['succeeded', 'failed', 'canceled'] as const;
export type TerminalJobStatus = (typeof TERMINAL_JOB_STATUSES)[number];

/** The job status each result about a build records (agent-ready records none). */
const RECORDED_JOB_STATUS: Record<ResultOfBuild['type'], 'running' | TerminalJobStatus | null> = {
  'build-started': 'running',
  'build-succeeded': 'succeeded',
  'build-failed': 'failed',
  'build-canceled': 'canceled',
  'agent-ready': null,
};

export function isTerminalJobStatus(status: string): status is TerminalJobStatus {
  return (TERMINAL_JOB_STATUSES as readonly string[]).includes(status);
}

/** True when the result ends its build: it records a terminal job status. */
export function endsBuild(result: Pick<BuildResult, 'type'>): boolean {
  const status = result.type === 'workspace-lost' ? null : RECORDED_JOB_STATUS[result.type];
  return status !== null && isTerminalJobStatus(status);
}

export const NotificationEvent = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('preset-hard-limited'),
    presetId: uuid,
    /** Identifies this transition: a redelivered event carries the same value. */
    transitionAt: isoDate,
    failures: z.number().int().nonnegative(),
    lastError: z.string().max(4096).nullable(),
  }),
  z.strictObject({
    type: z.literal('preset-validation-failed'),
    presetId: uuid,
    transitionAt: isoDate,
    error: z.string().max(4096),
  }),
  z.strictObject({
    type: z.literal('resource-replacements'),
    presetId: uuid,
    workspaceId: uuid,
    buildId: uuid,
    buildNumber: z.number().int().positive(),
    claimantId: uuid,
    replacements: Replacements,
  }),
]);
export type NotificationEvent = z.infer<typeof NotificationEvent>;

/** The kinds of notice (= event types): what preferences and the site-wide switch are keyed by. */
export const NOTIFICATION_KINDS = NotificationEvent.options.map((o) => o.shape.type.value);
export type NotificationKind = NotificationEvent['type'];

/** A notice to one channel after the event was recorded: one e-mail per recipient or one chat post per event. */
export const NotificationSendJob = z.strictObject({ sendId: uuid });

/** Formats a zod error as `path: reason` lines, for logs of rejected payloads. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
