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
  // Standby tiers: a freeze or thaw was done, or one still unconfirmed is due again.
  'standby-done',
  'standby-recheck',
  'rollout-staged',
  'rollout-promoted',
  'rollout-stopped',
  'rollout-canceled',
  'surge-free',
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

/** What a provisioner may declare it can do beyond builds (docs/PROVISIONERS.md); Warmpool asks only for those. */
export const PROVISIONER_CAPABILITIES = ['freeze'] as const;
export const ProvisionerCapability = z.enum(PROVISIONER_CAPABILITIES);
export type ProvisionerCapability = z.infer<typeof ProvisionerCapability>;

/** A job id part: BullMQ reserves ':' and the key ends up in job ids. */
const keyPart = z.string().regex(/^[A-Za-z0-9_.@-]{1,200}$/);

/**
 * Warmpool → provisioner (job `standby-requested` on the build-requests queue): freeze a running prebuild (it keeps
 * its memory, uses no CPU) or thaw it back to running and usable. Only sent to provisioners that declare `freeze`.
 */
export const StandbyRequested = z.strictObject({
  workspaceId: uuid,
  action: z.enum(['freeze', 'thaw']),
  idempotencyKey: keyPart,
});
export type StandbyRequested = z.infer<typeof StandbyRequested>;

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
  /** A standby request was carried out (or already true): `at` is when the workspace froze or became usable again. */
  z.strictObject({
    type: z.literal('standby-done'),
    workspaceId: uuid,
    action: z.enum(['freeze', 'thaw']),
    key: keyPart,
    at: isoDate,
    /** How long the thaw took until the workspace was usable again (thaw only). */
    durationMs: z.number().int().nonnegative().max(3_600_000).optional(),
    /** `claim`: a thaw a claim build did itself (reported for its duration only; the claim build says the rest). */
    reason: z.enum(['refill', 'claim']).optional(),
  }),
  z.strictObject({ type: z.literal('standby-failed'), workspaceId: uuid, action: z.enum(['freeze', 'thaw']), key: keyPart, at: isoDate, error: z.string().max(4096) }),
  /** A provisioner is running and declares its capabilities; repeated every PROVISIONER_HEARTBEAT_MS. */
  z.strictObject({
    type: z.literal('provisioner-seen'),
    provisioner: keyPart,
    capabilities: z.array(ProvisionerCapability).max(16),
    at: isoDate,
  }),
]);
export type BuildResult = z.infer<typeof BuildResult>;
/** A result about one build (workspace-lost and the standby results are about a workspace, provisioner-seen about a provisioner). */
export type ResultOfBuild = Extract<BuildResult, { buildId: string }>;

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
  const status = (RECORDED_JOB_STATUS as Partial<Record<BuildResult['type'], 'running' | TerminalJobStatus | null>>)[result.type] ?? null;
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
  /**
   * A staged rollout stopped without promotion (deadline, failure limit, validation; BEHAVIOUR.md §4.7). `presetId`
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
