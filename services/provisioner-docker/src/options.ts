import { z } from 'zod';
import { MAX_PIDS, MIN_MEMORY_BYTES, parseMemory } from '@warmpool/core';
import { parseEnvGroup } from '@warmpool/runtime';
import type { ResourceLimits } from './resources.js';

const cpus = (fallback: number) => z.coerce.number().gt(0, 'must be more than 0').max(256, 'must be at most 256').default(fallback);
const memory = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const bytes = parseMemory(value);
      if (bytes === null || bytes < MIN_MEMORY_BYTES) {
        ctx.addIssue({ code: 'custom', message: 'must be a size of at least 6m such as "512m" or "2g"' });
        return z.NEVER;
      }
      return bytes;
    });
const pids = (fallback: number) => z.coerce.number().int('must be an integer').min(1, 'must be at least 1').max(MAX_PIDS, `must be at most ${MAX_PIDS}`).default(fallback);

/** Each default must fit under its maximum, or every manifest that omits the resource would be refused. */
const CEILINGS = [
  ['DOCKER_PROVISIONER_DEFAULT_CPUS', 'DOCKER_PROVISIONER_MAX_CPUS'],
  ['DOCKER_PROVISIONER_DEFAULT_MEMORY', 'DOCKER_PROVISIONER_MAX_MEMORY'],
  ['DOCKER_PROVISIONER_DEFAULT_PIDS', 'DOCKER_PROVISIONER_MAX_PIDS'],
] as const;

const DockerEnv = z
  .object({
    DOCKER_PROVISIONER_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(8),
    DOCKER_PROVISIONER_INSTANCE: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, ".", "-" or "_"').default('default'),
    DOCKER_PROVISIONER_MOUNT_PATH: z.string().regex(/^\/[^\0]*$/, 'must be an absolute path').default('/workspace'),
    DOCKER_PROVISIONER_STOP_TIMEOUT_S: z.coerce.number().int().min(0).max(600).default(5),
    DOCKER_PROVISIONER_LOCK_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
    DOCKER_PROVISIONER_DEFAULT_CPUS: cpus(1),
    DOCKER_PROVISIONER_MAX_CPUS: cpus(4),
    DOCKER_PROVISIONER_DEFAULT_MEMORY: memory('1g'),
    DOCKER_PROVISIONER_MAX_MEMORY: memory('8g'),
    DOCKER_PROVISIONER_DEFAULT_PIDS: pids(512),
    DOCKER_PROVISIONER_MAX_PIDS: pids(4096),
  })
  .superRefine((e, ctx) => {
    for (const [fallback, max] of CEILINGS) {
      if (e[fallback] > e[max]) ctx.addIssue({ code: 'custom', path: [fallback], message: `must not exceed ${max}` });
    }
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
  /** What a workspace gets when its manifest does not say, and the most it may ask for. */
  limits: ResourceLimits;
};

export function loadDockerOptions(env: Record<string, string | undefined> = process.env): DockerOptions {
  const e = parseEnvGroup(DockerEnv, env, 'DOCKER_PROVISIONER_', 'Docker provisioner');
  return {
    concurrency: e.DOCKER_PROVISIONER_CONCURRENCY,
    instance: e.DOCKER_PROVISIONER_INSTANCE,
    mountPath: e.DOCKER_PROVISIONER_MOUNT_PATH,
    stopTimeoutSeconds: e.DOCKER_PROVISIONER_STOP_TIMEOUT_S,
    lockMs: e.DOCKER_PROVISIONER_LOCK_MS,
    limits: {
      cpus: { default: e.DOCKER_PROVISIONER_DEFAULT_CPUS, max: e.DOCKER_PROVISIONER_MAX_CPUS },
      memoryBytes: { default: e.DOCKER_PROVISIONER_DEFAULT_MEMORY, max: e.DOCKER_PROVISIONER_MAX_MEMORY },
      pids: { default: e.DOCKER_PROVISIONER_DEFAULT_PIDS, max: e.DOCKER_PROVISIONER_MAX_PIDS },
    },
  };
}
