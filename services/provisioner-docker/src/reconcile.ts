import type Docker from 'dockerode';
import { loadLiveWorkspaces, type Pool } from '@warmpool/db';
import type { Provisioner } from '@warmpool/provisioner-kit';
import type { Logger } from '@warmpool/runtime';
import { AGENT } from './backend.js';
import { LABEL, removeWorkspace } from './engine.js';
import type { EngineEvents } from './events.js';
import { BuildRefusal } from './refusal.js';

export type StartupReport = { adopted: number; removed: number; lost: number; watched: number };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Start-up reconcile of the engine with the database, over this instance's labelled containers and volumes only:
 * builds still in progress keep their container (their redelivered request adopts it); containers and volumes of
 * workspaces that no longer exist, or whose only build failed, are removed; a live prebuild whose container is
 * not running is reported lost; running ones get their readiness watched again (a restart may have interrupted
 * the wait). Containers without our instance label are never listed, so never touched.
 */
export async function reconcileAtStart(deps: {
  docker: Docker;
  pool: Pool;
  instance: string;
  kit: Provisioner;
  events: EngineEvents;
  logger: Logger;
  expectGone: (workspaceId: string) => void;
  shutdown: AbortSignal;
}): Promise<StartupReport> {
  const { docker, kit, logger } = deps;
  const filter = { label: [`${LABEL.instance}=${deps.instance}`] };
  const containers = await docker.listContainers({ all: true, filters: filter });
  const volumes = (await docker.listVolumes({ filters: filter })).Volumes ?? [];
  const containerOf = new Map(containers.flatMap((c) => (UUID.test(c.Labels[LABEL.workspace] ?? '') ? [[c.Labels[LABEL.workspace]!, c] as const] : [])));
  const volumeOwners = volumes.flatMap((v) => (UUID.test(v.Labels?.[LABEL.workspace] ?? '') ? [v.Labels[LABEL.workspace]!] : []));
  const ids = [...new Set([...containerOf.keys(), ...volumeOwners])];
  const report: StartupReport = { adopted: 0, removed: 0, lost: 0, watched: 0 };
  for (const ws of await loadLiveWorkspaces(deps.pool, ids)) {
    const container = containerOf.get(ws.id);
    const inProgress = ws.latestStatus === 'pending' || ws.latestStatus === 'running';
    const leftover = !ws.live || (ws.latestTransition === 'start' && (ws.latestStatus === 'failed' || ws.latestStatus === 'canceled'));
    if (leftover) {
      deps.expectGone(ws.id);
      try {
        await removeWorkspace(docker, ws.id, deps.instance);
      } catch (err) {
        // Our labelled volume beside someone else's container of the name: that one stays, and so does the rest.
        if (!(err instanceof BuildRefusal)) throw err;
        logger.warn({ workspaceId: ws.id, err: err.message }, 'left a leftover workspace in place: its name is taken by resources this provisioner did not label');
        continue;
      }
      report.removed++;
      logger.info({ workspaceId: ws.id, container: container?.Id.slice(0, 12) ?? null }, 'removed resources of a workspace that no longer needs them');
    } else if (inProgress) {
      report.adopted++;
    } else if (ws.latestTransition === 'start' && ws.latestStatus === 'succeeded') {
      if (container?.State === 'running') {
        report.watched++;
        const buildId = ws.latestBuildId!;
        void deps.events
          .waitReady(container.Id, deps.shutdown)
          .then(() => kit.report({ type: 'agent-ready', buildId, agent: AGENT, at: new Date().toISOString() }))
          .catch((err: unknown) => logger.info({ workspaceId: ws.id, err: (err as Error).message }, 'agent not ready after restart'));
      } else if (ws.prebuild) {
        report.lost++;
        await kit.report({
          type: 'workspace-lost',
          workspaceId: ws.id,
          incident: container?.Id.slice(0, 64) ?? 'absent',
          at: new Date().toISOString(),
          reason: container ? `container found ${container.State} at provisioner start-up` : 'container missing at provisioner start-up',
        });
      }
    }
  }
  logger.info(report, 'start-up reconcile with the engine done');
  return report;
}
