import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { enqueueReconcile, type QueueSet } from '@warmpool/bus';
import { validateManifest, type Manifest } from '@warmpool/core';
import { importTemplateVersion, withTransaction } from '@warmpool/db';
import { LABEL } from '@warmpool/provisioner-docker';
import { docker } from './docker.js';
import type { TestDatabase } from './env.js';
import { seedOrganization, seedTemplate } from './seed.js';
import { waitFor } from './wait.js';

// Generous: on a loaded 2-core machine one create + start alone can take seconds.
export const POOL_TIMEOUT_MS = 60_000;

/**
 * Helpers for tests of pools on the Docker provisioner: import versions with a workspace block, and wait until a
 * preset's eligible prebuilds and its healthy labelled containers are the same `n` workspaces.
 */
export function poolHelpers(context: () => { db: TestDatabase; queues: QueueSet; instance: string; image: string }) {
  const workspaceBlock = (overrides: Record<string, unknown> = {}) => ({
    image: context().image,
    command: ['sh', '-c', 'touch /tmp/ready; exec sleep 3600'],
    env: { REGION: '${region}' },
    labels: { team: 'e2e' },
    resources: { memory: '64m', cpus: 0.5 },
    healthcheck: { command: ['test', '-f', '/tmp/ready'], interval_seconds: 0.2, retries: 3 },
    claim_hook: { command: ['sh', '-c', 'echo "$WARMPOOL_OWNER_NAME $WARMPOOL_OWNER_ID" > /tmp/owner'] },
    ...overrides,
  });

  /** Imports (and activates) a version through the same validation and storage as the API (`prebuilds`: more fields, e.g. standby). */
  async function importVersion(templateId: string, name: string, instances: number, workspace: Record<string, unknown>, prebuilds: Record<string, unknown> = {}): Promise<string> {
    const { db, queues } = context();
    const validation = validateManifest({
      name,
      parameters: [{ name: 'region', default: 'eu' }],
      presets: [{ name: 'dev', parameters: { region: 'eu' }, prebuilds: { instances, ...prebuilds } }],
      workspace,
    });
    assert.equal(validation.ok, true, JSON.stringify(validation));
    const manifest = (validation as { value: Manifest }).value;
    const imported = await withTransaction(db.pool, (client) => importTemplateVersion(client, { templateId, manifest, createdBy: null, activate: true }));
    for (const presetId of imported.affectedPresetIds) await enqueueReconcile(queues.reconcile, presetId, 'test');
    return imported.presetIds[0]!;
  }

  const newTemplate = async () => seedTemplate(context().db.pool, await seedOrganization(context().db.pool));

  const presetContainers = (presetId: string, all: boolean) =>
    docker.listContainers({ all, filters: { label: [`${LABEL.instance}=${context().instance}`, `${LABEL.preset}=${presetId}`] } });

  /** Running, healthy containers of a preset (by label). */
  async function healthy(presetId: string): Promise<Docker.ContainerInfo[]> {
    return (await presetContainers(presetId, false)).filter((c) => c.State === 'running' && /\(healthy\)/.test(c.Status));
  }

  async function eligible(presetId: string): Promise<string[]> {
    const { rows } = await context().db.pool.query<{ id: string }>('SELECT id FROM running_prebuilds WHERE preset_id = $1 AND eligible ORDER BY id', [presetId]);
    return rows.map((r) => r.id);
  }

  /** Waits until exactly `n` eligible prebuilds and exactly `n` containers (all healthy) are the same workspaces. */
  async function converged(presetId: string, n: number, what: string, claimed: string[] = []): Promise<string[]> {
    const prebuild = (c: Docker.ContainerInfo) => !claimed.includes(c.Labels[LABEL.workspace]!);
    return waitFor(
      async () => {
        const ids = await eligible(presetId);
        const containers = (await healthy(presetId)).filter(prebuild);
        const all = (await presetContainers(presetId, true)).filter(prebuild);
        const same = JSON.stringify(containers.map((c) => c.Labels[LABEL.workspace]).sort()) === JSON.stringify(ids);
        return ids.length === n && containers.length === n && all.length === n && same ? ids : undefined;
      },
      { timeoutMs: POOL_TIMEOUT_MS, what },
    );
  }

  return { workspaceBlock, importVersion, newTemplate, healthy, eligible, converged };
}
