/**
 * Everything known about one preset at one instant, as the database reads it in one statement
 * (packages/db/src/snapshot.ts returns exactly this shape). Stored fields that may be bad (schedules,
 * declarations) stay `unknown`: the evaluation checks them and reports problems instead of crashing (§3.1).
 */
export type PresetRecord = {
  preset: {
    id: string;
    name: string;
    instances: number;
    ttlSeconds: number | null;
    timezone: string;
    /** Raw stored JSON; validated by the evaluation. */
    schedules: unknown;
    parameters: Record<string, string>;
    status: PresetStatusName;
    statusChangedAt: Date | null;
    scheduleError: string | null;
    /** Raw stored `prebuilds.autoscaling` fragment (null: none); validated on evaluation (sizing/policy.ts). */
    autoscaling: unknown;
    /** The autoscaling problem last stored (an expression's run-time error, unusable stored policy), or null. */
    autoscalingError: string | null;
    templateVersionId: string;
    versionName: string;
    /** Parameter declarations of the preset's version: [{ name, required, default, options }]. */
    declarations: unknown;
    templateId: string;
    templateName: string;
    templateDeleted: boolean;
    templateDeprecated: boolean;
    usingActiveVersion: boolean;
    organizationId: string;
    organizationName: string;
  };
  paused: boolean;
  /**
   * The staged rollout of the preset's version (issue 23), or absent/null when the version is not staged: its
   * deadline, its surge budget (staged builds in flight at once) and the staged builds in flight now, template-wide.
   */
  rollout?: { id: string; deadlineAt: Date; surgeBuilds: number; stagedInflight: number } | null;
  /** Running prebuilds, oldest first. */
  running: { id: string; createdAt: Date; ready: boolean; invalidated: boolean }[];
  inProgress: { transition: 'start' | 'stop' | 'delete'; count: number }[];
  /** Backoff population (§4.3), newest first, at most POPULATION_LIMIT entries. */
  population: {
    status: 'pending' | 'running' | 'succeeded' | 'failed' | 'canceled';
    createdAt: Date;
    completedAt: Date | null;
    error: string | null;
  }[];
};

export type PresetStatusName = 'healthy' | 'hard_limited' | 'validation_failed';
