import { z } from 'zod';

/** Payload schemas of every event on the queues; validated by producers and consumers alike. */

const uuid = z.uuid();
const isoDate = z.iso.datetime({ offset: true });

export const ReconcileJob = z.strictObject({
  presetId: uuid,
  /** Why the reconcile was triggered (tick, claim, build-finished, schedule-boundary, ...), for logs and metrics. */
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
  /**
   * A staged rollout stopped without promotion (deadline, failure limit, validation; BEHAVIOUR.md §4.6). `presetId`
   * is the staged preset that stopped it (for the deadline, the first one not warm): it names the pool in the notice.
   */
  z.strictObject({
    type: z.literal('rollout-stopped'),
    presetId: uuid,
    rolloutId: uuid,
    reason: z.enum(['deadline', 'failure_limit', 'validation_failed']),
    detail: z.string().max(4096),
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
