import { parseMemory, type WorkspaceSpec } from '@warmpool/core';
import { BuildRefusal } from './refusal.js';

/** One resource's operator setting: what a manifest that does not say gets, and the most one may ask for. */
export type Ceiling = { default: number; max: number };

/** The operator's defaults and ceilings for every workspace container (DOCKER_PROVISIONER_DEFAULT_* / _MAX_*). */
export type ResourceLimits = { cpus: Ceiling; memoryBytes: Ceiling; pids: Ceiling };

/** What a container is started with: every resource bounded, always. */
export type WorkspaceResources = { cpus: number; memoryBytes: number; pids: number };

const within = (what: string, asked: number | undefined, ceiling: Ceiling, variable: string, shown: (n: number) => string) => {
  if (asked === undefined) return ceiling.default;
  if (asked > ceiling.max) throw new BuildRefusal(`the workspace asks for ${shown(asked)} ${what}; this provisioner allows at most ${shown(ceiling.max)} (${variable})`);
  return asked;
};

const mebibytes = (bytes: number) => `${Math.round((bytes / 1024 ** 2) * 100) / 100} MiB`;

/**
 * The resources a workspace container runs with: the manifest's values where it gives them, the operator's
 * defaults where it does not; a value above the operator's maximum is refused rather than lowered, so a workspace
 * never runs with less than its template asked for without anyone being told (docs/DECISIONS.md).
 */
export function workspaceResources(resources: WorkspaceSpec['resources'], limits: ResourceLimits): WorkspaceResources {
  const memory = resources?.memory === undefined ? undefined : (parseMemory(resources.memory) ?? undefined);
  return {
    cpus: within('CPUs', resources?.cpus, limits.cpus, 'DOCKER_PROVISIONER_MAX_CPUS', String),
    memoryBytes: within('of memory', memory, limits.memoryBytes, 'DOCKER_PROVISIONER_MAX_MEMORY', mebibytes),
    pids: within('processes', resources?.pids, limits.pids, 'DOCKER_PROVISIONER_MAX_PIDS', String),
  };
}
