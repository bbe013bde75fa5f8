import Docker from 'dockerode';
import type { Pool } from '@warmpool/db';
import { startProvisioner, type Provisioner } from '@warmpool/provisioner-kit';
import type { Config, Logger } from '@warmpool/runtime';
import { createDockerBackend } from './backend.js';
import { engineMessage, LABEL } from './engine.js';
import { EngineEvents, type ContainerEvent } from './events.js';
import type { DockerOptions } from './options.js';
import { reconcileAtStart, type StartupReport } from './reconcile.js';
import { healTier, onTierEvent, type TierDeps } from './tiers.js';

export { loadDockerOptions, type DockerOptions } from './options.js';
export { containerName, volumeName, LABEL, freezeWorkspace, thawWorkspace, recheckHealth } from './engine.js';
export { AGENT, RECREATED } from './backend.js';
export type { StartupReport } from './reconcile.js';

export type DockerProvisioner = {
  kit: Provisioner;
  docker: Docker;
  startup: StartupReport;
  health: () => Promise<{ ok: boolean; details: Record<string, unknown> }>;
  close: () => Promise<void>;
};

/** One connection per build slot (each loads its build target), and two spare. */
export const dockerPoolSize = (options: DockerOptions): number => options.concurrency + 2;

export class EngineUnavailableError extends Error {
  override name = 'EngineUnavailableError';
}

/** Remembers the last workspaces this process stopped or removed itself (bounded), so their events are not drift. */
class RecentSet {
  private readonly items = new Set<string>();
  constructor(private readonly capacity = 10_000) {}
  add(id: string): void {
    this.items.delete(id);
    this.items.add(id);
    if (this.items.size > this.capacity) this.items.delete(this.items.values().next().value!);
  }
  delete(id: string): void {
    this.items.delete(id);
  }
  has(id: string): boolean {
    return this.items.has(id);
  }
}

/**
 * The Docker Engine provisioner: the kit's protocol with the Docker backend, plus drift healing (container deaths
 * and removals outside Warmpool are reported as `workspace-lost`, from the engine's event stream) and a start-up
 * reconcile. The engine is `DOCKER_HOST` or the local socket (dockerode's defaults) unless `docker` is given.
 */
export async function startDockerProvisioner(input: { config: Config; options: DockerOptions; logger: Logger; docker?: Docker; pool: Pool }): Promise<DockerProvisioner> {
  const { config, options, logger } = input;
  const docker = input.docker ?? new Docker();
  try {
    await docker.ping();
  } catch (err) {
    throw new EngineUnavailableError(
      `no Docker Engine answers (${engineMessage(err)}): start dockerd, or set DOCKER_HOST (e.g. unix:///var/run/docker.sock or tcp://host:2375)`,
    );
  }
  const { pool } = input;
  const expected = new RecentSet();
  const shutdown = new AbortController();
  const onGone = (event: ContainerEvent) => {
    const workspaceId = event.labels[LABEL.workspace];
    // Only called once the stream is open, after the kit below exists.
    if (!workspaceId || kit.isBusy(workspaceId) || expected.has(workspaceId)) return;
    const how = event.action === 'die' ? `died (exit code ${event.labels.exitCode ?? 'unknown'})` : 'was removed';
    logger.warn({ workspaceId, container: event.containerId.slice(0, 12), action: event.action }, 'container changed outside Warmpool');
    kit
      .report({ type: 'workspace-lost', workspaceId, incident: event.containerId.slice(0, 64), at: new Date().toISOString(), reason: `container ${how} outside Warmpool` })
      .catch((err: unknown) => logger.warn({ err, workspaceId }, 'workspace-lost report failed'));
  };
  // Pauses and unpauses from outside are healed once the kit below exists (events flow only after start()).
  const tierDeps = (): TierDeps => ({ docker, pool, kit, logger, instance: options.instance, thawBudgetMs: options.thawBudgetMs });
  const events = new EngineEvents(docker, options.instance, onGone, logger, (event) => onTierEvent(tierDeps())(event));
  const kit: Provisioner = startProvisioner({
    redis: config.redis,
    queuePrefix: config.queuePrefix,
    logger,
    concurrency: options.concurrency,
    lockDurationMs: options.lockMs,
    name: 'docker',
    // One row per instance label: a restarted provisioner replaces its own row.
    identity: `docker-${options.instance}`,
    autorun: false,
    backend: createDockerBackend({
      docker,
      pool,
      events,
      options,
      expectGone: (ws) => expected.add(ws),
      expectAlive: (ws) => expected.delete(ws),
      onClaimThaw: (workspaceId, ms) => {
        // The claim build's own result says the rest: this is for the thaw histogram only.
        const at = new Date().toISOString();
        const key = `claim-${workspaceId}-${Date.parse(at)}`;
        kit.report({ type: 'standby-done', workspaceId, action: 'thaw', key, at, durationMs: Math.round(ms), reason: 'claim' }).catch((err: unknown) => logger.warn({ err, workspaceId }, 'claim thaw not reported'));
      },
    }),
  });

  await events.start();
  const startup = await reconcileAtStart({
    docker,
    pool,
    instance: options.instance,
    kit,
    events,
    logger,
    expectGone: (ws) => expected.add(ws),
    shutdown: shutdown.signal,
    healTier: (ws) => healTier(tierDeps(), ws),
  });
  kit.run();

  const health = async () => {
    const own = kit.health();
    const engine = await docker.ping().then(() => true, () => false);
    return { ok: own.ok && engine, details: { ...own.details, engine } };
  };

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      shutdown.abort();
      await kit.close();
      events.close();
    })());
  return { kit, docker, startup, health, close };
}
export { ensureBusyboxImage, removeInstance } from './local-image.js';
