import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type Docker from 'dockerode';
import { renderWorkspaceEnv, resolveBuildParameters, type ParameterDeclaration, type WorkspaceSpec } from '@warmpool/core';
import type { BuildTarget } from '@warmpool/db';
import { BuildRefusal } from './refusal.js';
import { workspaceResources, type ResourceLimits } from './resources.js';

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

/** Whether the labels are this instance's for this workspace: anything else is someone else's and never touched. */
const isOurs = (labels: Record<string, string> | null | undefined, instance: string, workspaceId: string) =>
  labels?.[LABEL.instance] === instance && labels[LABEL.workspace] === workspaceId;

const foreign = (kind: 'container' | 'volume', name: string, instance: string) =>
  new BuildRefusal(`a ${kind} named ${name} exists without this provisioner's labels (${LABEL.instance}=${instance}): it is left untouched; remove or rename it, then retry`);

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

export type ContainerOptions = { instance: string; mountPath: string; limits: ResourceLimits };

/**
 * The engine's create body for a workspace: the spec with parameters substituted, resources within the operator's
 * ceilings, health check, and no way to gain privileges (no-new-privileges). Only parameter values that satisfy the
 * version's declarations are rendered (the api and the reconciler check them too): BuildRefusal otherwise.
 */
export function containerConfig(
  spec: WorkspaceSpec,
  target: BuildTarget,
  parameters: Record<string, string>,
  options: ContainerOptions,
): Docker.ContainerCreateOptions {
  const declarations = Array.isArray(target.declarations) ? (target.declarations as ParameterDeclaration[]) : [];
  const checked = resolveBuildParameters(declarations, parameters);
  if (!checked.ok) throw new BuildRefusal(`refused to render the build's parameters: ${checked.error}`);
  const env = renderWorkspaceEnv(spec.env, checked.parameters);
  const resources = workspaceResources(spec.resources, options.limits);
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
      NanoCpus: Math.round(resources.cpus * 1e9),
      Memory: resources.memoryBytes,
      PidsLimit: resources.pids,
      SecurityOpt: ['no-new-privileges:true'],
    },
  };
}

/**
 * The workspace's container, or null when there is none; BuildRefusal when a container of its name exists that
 * this instance did not label (it is never adopted, started, stopped or removed).
 */
export async function inspectWorkspace(docker: Docker, workspaceId: string, instance: string): Promise<Docker.ContainerInspectInfo | null> {
  let info: Docker.ContainerInspectInfo;
  try {
    info = await docker.getContainer(containerName(workspaceId)).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
  if (!isOurs(info.Config.Labels, instance, workspaceId)) throw foreign('container', containerName(workspaceId), instance);
  return info;
}

/** The workspace's volume's labels, or null when there is none; BuildRefusal when it is someone else's. */
async function inspectVolume(docker: Docker, workspaceId: string, instance: string): Promise<Docker.VolumeInspectInfo | null> {
  let info: Docker.VolumeInspectInfo;
  try {
    info = await docker.getVolume(volumeName(workspaceId)).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
  if (!isOurs(info.Labels, instance, workspaceId)) throw foreign('volume', volumeName(workspaceId), instance);
  return info;
}

/**
 * Creates (or adopts, when this instance's container of that name exists: a redelivered request or a restart
 * mid-build) and starts the workspace's container. Returns the container id and whether a new container was made.
 * A container or volume of that name that this instance did not label is refused (BuildRefusal), never adopted.
 */
export async function ensureRunning(docker: Docker, config: Docker.ContainerCreateOptions, workspaceId: string, instance: string): Promise<{ id: string; created: boolean }> {
  let info = await inspectWorkspace(docker, workspaceId, instance);
  let created = false;
  if (!info) {
    // Creating a volume whose name exists answers with the existing one: check whose it is before mounting it.
    await docker.createVolume({ Name: volumeName(workspaceId), Labels: config.Labels ?? {} });
    await inspectVolume(docker, workspaceId, instance);
    try {
      await docker.createContainer(config);
      created = true;
    } catch (err) {
      if (statusOf(err) !== 409) throw err; // 409: a concurrent create of the same name won; adopt it if it is ours
    }
    info = await inspectWorkspace(docker, workspaceId, instance);
    if (!info) throw new Error('the container vanished right after it was created');
  }
  if (!info.State.Running) await ignoreGone(docker.getContainer(info.Id).start());
  return { id: info.Id, created };
}

/** Stops this instance's container of the workspace (kept for the next start); a missing one counts as stopped. */
export async function stopWorkspace(docker: Docker, workspaceId: string, instance: string, timeoutSeconds: number): Promise<void> {
  const info = await inspectWorkspace(docker, workspaceId, instance);
  if (info) await ignoreGone(docker.getContainer(info.Id).stop({ t: timeoutSeconds }));
}

/**
 * Removes this instance's container and volume of the workspace; missing ones count as removed, someone else's are
 * refused (BuildRefusal). The container is removed by the id that was checked, so a foreign container created
 * under the name in the meantime is not. A removal already in progress (someone ran `docker rm -f` at the same
 * moment: 409) is waited for, not failed.
 */
export async function removeWorkspace(docker: Docker, workspaceId: string, instance: string): Promise<void> {
  const info = await inspectWorkspace(docker, workspaceId, instance);
  if (info) {
    const container = docker.getContainer(info.Id);
    try {
      await ignoreGone(container.remove({ force: true, v: true }));
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      await ignoreGone(container.wait({ condition: 'removed' }));
    }
  }
  if (!(await inspectVolume(docker, workspaceId, instance))) return;
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
