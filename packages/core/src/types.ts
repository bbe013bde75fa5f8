/** Shapes shared by the pure reconciliation core and its callers. */

export type Transition = 'start' | 'stop' | 'delete';

export type ScheduleEntry = { cron: string; instances: number };

export type PresetSnapshot = {
  preset: {
    id: string;
    instances: number;
    usingActiveVersion: boolean;
    templateDeleted: boolean;
    templateDeprecated: boolean;
    /** Its version is staged by a rollout (issue 23): reconciled like an active preset, never claimed. */
    staged?: boolean;
    ttlSeconds: number | null;
    /** IANA zone of the schedules; '' when the preset has none. */
    timezone: string;
    schedules: ScheduleEntry[];
  };
  /** Every running prebuild, expired ones included. `invalidated` ones count as expired. */
  running: { id: string; createdAt: Date; ready: boolean; invalidated?: boolean }[];
  inProgress: { transition: Transition; count: number }[];
  backoff: { failures: number; newestFailureAt: Date } | null;
  hardLimited: boolean;
  /** The desired count an autoscaling policy chose now (see sizing/target.ts); absent: the schedule decides. */
  target?: number;
  /** For a staged preset: its rollout's deadline and how many more staged builds its surge budget allows now. */
  rollout?: { id: string; deadlineAt: Date; surgeRemaining: number };
};

export type PoolState = {
  actual: number;
  desired: number;
  expired: number;
  eligible: number;
  extraneous: number;
  starting: number;
  stopping: number;
  deleting: number;
};

export type DeleteReason = 'expired' | 'extraneous' | 'inactive';

export type Action =
  | { type: 'create'; count: number }
  | { type: 'delete'; ids: string[]; reason: DeleteReason }
  | { type: 'backoff'; until: Date };

export type Plan = { state: PoolState; actions: Action[] };

export type PlanOptions = { now: Date; backoffIntervalMs: number };
