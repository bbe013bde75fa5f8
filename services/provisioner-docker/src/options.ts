import { z } from 'zod';
import { parseEnvGroup } from '@warmpool/runtime';

const DockerEnv = z.object({
  DOCKER_PROVISIONER_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(8),
  DOCKER_PROVISIONER_INSTANCE: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, ".", "-" or "_"').default('default'),
  DOCKER_PROVISIONER_MOUNT_PATH: z.string().regex(/^\/[^\0]*$/, 'must be an absolute path').default('/workspace'),
  DOCKER_PROVISIONER_STOP_TIMEOUT_S: z.coerce.number().int().min(0).max(600).default(5),
  DOCKER_PROVISIONER_LOCK_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  DOCKER_PROVISIONER_THAW_BUDGET_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
});

/** How the Docker provisioner runs; every field has an environment variable (DOCKER_PROVISIONER_*). */
export type DockerOptions = {
  concurrency: number;
  /** Value of the `warmpool.instance` label: this provisioner only ever touches containers carrying it. */
  instance: string;
  /** Where the workspace's named volume is mounted in its container. */
  mountPath: string;
  stopTimeoutSeconds: number;
  /** Job lock of a build: after a crash its request is redelivered within about this time. */
  lockMs: number;
  /** A thawed container whose health check does not pass within this long fails the thaw (or the claim). */
  thawBudgetMs: number;
};

export function loadDockerOptions(env: Record<string, string | undefined> = process.env): DockerOptions {
  const e = parseEnvGroup(DockerEnv, env, 'DOCKER_PROVISIONER_', 'Docker provisioner');
  return {
    concurrency: e.DOCKER_PROVISIONER_CONCURRENCY,
    instance: e.DOCKER_PROVISIONER_INSTANCE,
    mountPath: e.DOCKER_PROVISIONER_MOUNT_PATH,
    stopTimeoutSeconds: e.DOCKER_PROVISIONER_STOP_TIMEOUT_S,
    lockMs: e.DOCKER_PROVISIONER_LOCK_MS,
    thawBudgetMs: e.DOCKER_PROVISIONER_THAW_BUDGET_MS,
  };
}
