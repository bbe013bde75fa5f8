import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type Docker from 'dockerode';
import { parseMemory, renderWorkspaceEnv, type WorkspaceSpec } from '@warmpool/core';
import type { BuildTarget } from '@warmpool/db';

/** Labels Warmpool puts on what it creates; containers without `warmpool.instance=<ours>` are never touched. */
export const LABEL = {
  instance: 'warmpool.instance',
  organization: 'warmpool.organization',
  template: 'warmpool.template',
  version: 'warmpool.version',
  preset: 'warmpool.preset',
  workspace: 'warmpool.workspace',
  build: 'warmpool.build',
} as const;

/** One container and one volume per workspace, named from its id: a redelivered create finds them. */
export const containerName = (workspaceId: string) => `warmpool-${workspaceId}`;
export const volumeName = (workspaceId: string) => `warmpool-${workspaceId}`;

type EngineError = { statusCode?: number; json?: { message?: string }; reason?: string; message?: string; code?: string };

/** The engine's own message ("No such image: x", "invalid reference format", ...). */
export function engineMessage(err: unknown): string {
  const e = err as EngineError;
  const message = e.json?.message ?? e.message ?? String(err);
  return message.replace(/^\(HTTP code \d+\) [\w ]+ - /, '').trim();
}

export const statusOf = (err: unknown): number | undefined => (err as EngineError).statusCode;

/**
 * Whether trying the same build again can help: the engine's 4xx answers (missing image, invalid configuration)
 * need a changed template or image; 5xx and connection errors are passing troubles.
 */
export function isRetryable(err: unknown): boolean {
  const status = statusOf(err);
  return status === undefined || status >= 500;
}

/** Ignores the engine's "not found" (already gone) and "not modified" (already stopped) answers. */
export async function ignoreGone(action: Promise<unknown>): Promise<void> {
  try {
    await action;
  } catch (err) {
    const status = statusOf(err);
    if (status !== 404 && status !== 304) throw err;
  }
}

const nanos = (seconds: number) => Math.round(seconds * 1e9);

export function labelsFor(target: BuildTarget, instance: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...extra,
    [LABEL.instance]: instance,
    [LABEL.organization]: target.organizationId,
    [LABEL.template]: target.templateId,
    [LABEL.version]: target.templateVersionId,
    [LABEL.preset]: target.presetId ?? '',
    [LABEL.workspace]: target.workspaceId,
    [LABEL.build]: target.buildId,
  };
}

/** The engine's create body for a workspace: the spec with parameters substituted, limits and health check. */
export function containerConfig(spec: WorkspaceSpec, target: BuildTarget, parameters: Record<string, string>, options: { instance: string; mountPath: string }): Docker.ContainerCreateOptions {
  const env = renderWorkspaceEnv(spec.env, parameters);
  const memory = spec.resources?.memory === undefined ? undefined : parseMemory(spec.resources.memory);
  return {
    name: containerName(target.workspaceId),
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    Env: [
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      `WARMPOOL_WORKSPACE_ID=${target.workspaceId}`,
    ],
    Labels: labelsFor(target, options.instance, spec.labels),
    ...(spec.healthcheck
      ? {
          Healthcheck: {
            Test: ['CMD', ...spec.healthcheck.command],
            Interval: nanos(spec.healthcheck.interval_seconds),
            Timeout: nanos(spec.healthcheck.timeout_seconds),
            Retries: spec.healthcheck.retries,
            StartPeriod: nanos(spec.healthcheck.start_period_seconds),
          },
        }
      : {}),
    HostConfig: {
      Mounts: [{ Type: 'volume', Source: volumeName(target.workspaceId), Target: options.mountPath }],
      ...(spec.resources?.cpus !== undefined ? { NanoCpus: Math.round(spec.resources.cpus * 1e9) } : {}),
      ...(memory ? { Memory: memory } : {}),
    },
  };
}

/** The container of a workspace, or null when there is none. */
export async function inspectWorkspace(docker: Docker, workspaceId: string): Promise<Docker.ContainerInspectInfo | null> {
  try {
    return await docker.getContainer(containerName(workspaceId)).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

/**
 * Creates (or adopts, when a container of that name exists: a redelivered request or a restart mid-build) and
 * starts the workspace's container. Returns the container id and whether a new container was made.
 */
export async function ensureRunning(docker: Docker, config: Docker.ContainerCreateOptions, workspaceId: string): Promise<{ id: string; created: boolean }> {
  let info = await inspectWorkspace(docker, workspaceId);
  let created = false;
  if (!info) {
    await docker.createVolume({ Name: volumeName(workspaceId), Labels: config.Labels ?? {} });
    try {
      await docker.createContainer(config);
      created = true;
    } catch (err) {
      if (statusOf(err) !== 409) throw err; // 409: a concurrent create of the same name won; adopt it
    }
    info = await inspectWorkspace(docker, workspaceId);
    if (!info) throw new Error('the container vanished right after it was created');
  }
  if (!info.State.Running) await ignoreGone(docker.getContainer(info.Id).start());
  return { id: info.Id, created };
}

/**
 * Removes the workspace's container and volume; missing ones count as removed. A removal already in progress
 * (someone ran `docker rm -f` at the same moment: 409) is waited for, not failed.
 */
export async function removeWorkspace(docker: Docker, workspaceId: string): Promise<void> {
  const container = docker.getContainer(containerName(workspaceId));
  try {
    await ignoreGone(container.remove({ force: true, v: true }));
  } catch (err) {
    if (statusOf(err) !== 409) throw err;
    await ignoreGone(container.wait({ condition: 'removed' }));
  }
  // The volume is released a moment after its container goes: a short retry on "in use" (409).
  for (let attempt = 0; ; attempt++) {
    try {
      await ignoreGone(docker.getVolume(volumeName(workspaceId)).remove());
      return;
    } catch (err) {
      if (statusOf(err) !== 409 || attempt >= 20) throw err;
      await delay(100);
    }
  }
}

/** Runs `command` in the container with `env`; resolves with its exit code and output (bounded). */
export async function execIn(docker: Docker, containerId: string, command: string[], env: Record<string, string>, timeoutMs: number): Promise<{ exitCode: number | null; output: string }> {
  const exec = await docker.getContainer(containerId).exec({
    Cmd: command,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  let output = '';
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    if (output.length < 4096) output += chunk.toString('utf8');
  });
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode, output: output.slice(0, 4096) };
}

/**
 * Runs the container's own health check command once (its `Config.Healthcheck.Test`) and says whether it passed:
 * a thawed container is re-checked at once instead of waiting up to an interval for the engine, which calls every
 * paused container unhealthy. Without a health check, running is usable.
 */
export async function recheckHealth(docker: Docker, info: Docker.ContainerInspectInfo): Promise<boolean> {
  const test = info.Config.Healthcheck?.Test ?? [];
  const command = test[0] === 'CMD' ? test.slice(1) : test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test[1] ?? 'true'] : null;
  if (command === null || command.length === 0) return true;
  const timeoutMs = Math.max(1, Math.round((info.Config.Healthcheck?.Timeout ?? 30e9) / 1e6));
  const result = await execIn(docker, info.Id, command, {}, timeoutMs);
  return result.exitCode === 0;
}

/**
 * Unpauses a workspace's container (a no-op when it is not paused) and waits until its health check passes again,
 * re-running it every `retryMs` until `budgetMs`. Returns how long that took, or throws with the reason.
 */
export async function thawWorkspace(docker: Docker, info: Docker.ContainerInspectInfo, options: { budgetMs: number; retryMs: number }): Promise<{ ms: number; wasFrozen: boolean }> {
  const started = performance.now();
  if (!info.State.Paused) return { ms: 0, wasFrozen: false };
  try {
    await docker.getContainer(info.Id).unpause();
  } catch (err) {
    // 409/500 "is not paused": someone (a claim, a heal) thawed it first: the same outcome.
    if (!/not paused/i.test(engineMessage(err))) throw err;
  }
  for (;;) {
    if (await recheckHealth(docker, info).catch(() => false)) return { ms: performance.now() - started, wasFrozen: true };
    if (performance.now() - started > options.budgetMs) throw new Error(`not usable ${options.budgetMs} ms after the thaw (health check failing)`);
    await delay(options.retryMs);
  }
}

/** Pauses a workspace's container (cgroup freezer: no CPU, memory kept); a paused one stays as it is. */
export async function freezeWorkspace(docker: Docker, info: Docker.ContainerInspectInfo): Promise<{ wasHot: boolean }> {
  if (info.State.Paused) return { wasHot: false };
  try {
    await docker.getContainer(info.Id).pause();
  } catch (err) {
    if (!/already paused/i.test(engineMessage(err))) throw err;
  }
  return { wasHot: true };
}
