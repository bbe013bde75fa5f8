import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDockerOptions, startDockerProvisioner, type DockerProvisioner } from '@warmpool/provisioner-docker';
import { startProvisionerSim, type ProvisionerSim } from '@warmpool/provisioner-sim';
import { startReconciler } from '@warmpool/reconciler';
import { createLogger } from '@warmpool/runtime';
import { client, startTestApi, userWithRole } from '../support/api.js';
import { cleanupInstance, testInstance } from '../support/docker.js';
import { testConfig } from '../support/pipeline.js';
import { seedOrganization } from '../support/seed.js';
import { waitFor } from '../support/wait.js';
import { ensureWorkspaceImage, workspaceImageBlock } from '../support/workspace-image.js';

// GET /workspaces/:id says when a workspace is usable (build succeeded, agents ready, claim hook done), through the
// API with a reconciler and a real provisioner: the simulator, then the Docker Engine with a slow-to-be-ready image.
const logger = createLogger('test', { level: process.env.WARMPOOL_TEST_LOG ?? 'silent' });
type Ws = { id: string; usable: boolean; usable_at: string | null; agents: { name: string; ready: boolean; ready_at: string | null }[]; claim_hook: { status: string; error: string | null } | null; latest_build: { job_status: string; reason: string; completed_at: string | null } };

async function setUp() {
  const env = await startTestApi();
  const call = client(env.api.url);
  await seedOrganization(env.db.pool, 'acme');
  const { token } = await userWithRole(env.db.pool, 'owner', null);
  const config = testConfig(env.db.url, env.prefix);
  const reconciler = await startReconciler({ config, logger, pool: env.db.pool, relayPollMs: 200, healthPort: 0 });
  let n = 0;
  /** A template with one preset `dev` of `instances` prebuilds, its version active. */
  const template = async (instances: number, workspace?: unknown) => {
    const t = await call('POST', '/api/v1/organizations/acme/templates', { token, body: { name: `t${++n}` } });
    const manifest = { name: 'v1', presets: [{ name: 'dev', prebuilds: { instances } }], ...(workspace ? { workspace } : {}) };
    const v = await call('POST', `/api/v1/templates/${t.body.id}/versions?activate=true`, { token, body: manifest });
    assert.equal(v.status, 201, JSON.stringify(v.body));
    return t.body.id as string;
  };
  const create = async (templateId: string, name: string) => {
    const res = await call('POST', '/api/v1/organizations/acme/workspaces', { token, body: { template_id: templateId, name } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { claimed: boolean; workspace: Ws };
  };
  /** Polls the resource as a client would, keeping every answer. */
  const pollUntilUsable = async (id: string, seen: Ws[] = []) =>
    waitFor(
      async () => {
        const res = await call('GET', `/api/v1/workspaces/${id}`, { token });
        assert.equal(res.status, 200);
        seen.push(res.body as unknown as Ws);
        return seen.at(-1)!.usable ? seen : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: `workspace ${id} usable` },
    );
  return { env, call, token, config, reconciler, template, create, pollUntilUsable };
}

describe('the simulator', () => {
  let s: Awaited<ReturnType<typeof setUp>>;
  let sim: ProvisionerSim;
  before(async () => {
    s = await setUp();
    sim = startProvisionerSim({ config: s.config, logger, sim: { buildMs: 100, jitterMs: 0, failureRate: 0, agentReadyMs: 1_500, replacementRate: 0, concurrency: 10, seed: 1 } });
  });
  after(async () => {
    await sim?.close();
    await s?.reconciler.close();
    await s?.env.stop();
  });

  test('a fresh workspace is not usable while its build runs, nor after it succeeded until its agent is ready', async () => {
    const created = await s.create(await s.template(0), 'fresh');
    assert.equal(created.claimed, false);
    assert.deepEqual([created.workspace.usable, created.workspace.usable_at, created.workspace.agents, created.workspace.claim_hook], [false, null, [], null]);
    const seen = await s.pollUntilUsable(created.workspace.id);
    assert.ok(
      seen.some((w) => w.latest_build.job_status === 'succeeded' && !w.usable && w.agents.length === 1 && !w.agents[0]!.ready),
      'seen succeeded with its agent not yet ready',
    );
    const last = seen.at(-1)!;
    assert.equal(last.agents[0]!.ready, true);
    assert.equal(last.usable_at, last.agents[0]!.ready_at);
    assert.ok(Date.parse(last.usable_at!) >= Date.parse(last.latest_build.completed_at!));
  });

  test('GET of an unknown workspace answers 404, without a token 401', async () => {
    assert.equal((await s.call('GET', '/api/v1/workspaces/00000000-0000-4000-8000-000000000000', { token: s.token })).status, 404);
    assert.equal((await s.call('GET', '/api/v1/workspaces/00000000-0000-4000-8000-000000000000')).status, 401);
  });
});

describe('the Docker provisioner', () => {
  let s: Awaited<ReturnType<typeof setUp>>;
  let provisioner: DockerProvisioner;
  let image: string;
  const instance = testInstance();
  before(async () => {
    image = await ensureWorkspaceImage();
    s = await setUp();
    provisioner = await startDockerProvisioner({ config: s.config, options: { ...loadDockerOptions({}), instance, concurrency: 6, stopTimeoutSeconds: 0 }, logger, pool: s.env.db.pool });
  });
  after(async () => {
    await provisioner?.close();
    await s?.reconciler.close();
    await cleanupInstance(instance);
    await s?.env.stop();
  });

  test('a cold workspace is usable only once its health check passes, seconds after its build succeeded', async () => {
    const created = await s.create(await s.template(0, workspaceImageBlock(image, { readyAfterSeconds: 2 })), 'cold');
    const seen = await s.pollUntilUsable(created.workspace.id);
    assert.ok(seen.some((w) => w.latest_build.job_status === 'succeeded' && !w.usable), 'seen succeeded but not usable');
    const last = seen.at(-1)!;
    assert.ok(Date.parse(last.usable_at!) - Date.parse(last.latest_build.completed_at!) >= 1_000, `usable ${last.usable_at}, succeeded ${last.latest_build.completed_at}`);
  });

  test("a claim is usable once its hook ran; a failing hook is the claim's outcome", async () => {
    const good = await s.template(1, workspaceImageBlock(image, { readyAfterSeconds: 1 }));
    const failing = await s.template(1, { ...workspaceImageBlock(image, { readyAfterSeconds: 1 }), claim_hook: { command: ['sh', '-c', 'echo no disk >&2; exit 3'] } });
    const eligible = (templateId: string) => async () =>
      (await s.env.db.pool.query('SELECT 1 FROM running_prebuilds p JOIN presets r ON r.id = p.preset_id JOIN template_versions v ON v.id = r.template_version_id WHERE v.template_id = $1 AND p.eligible', [templateId])).rowCount;
    await waitFor(eligible(good), { timeoutMs: 60_000, what: 'an eligible prebuild' });
    await waitFor(eligible(failing), { timeoutMs: 60_000, what: 'an eligible prebuild of the failing hook' });

    const claim = await s.create(good, 'claimer');
    assert.equal(claim.claimed, true);
    assert.deepEqual([claim.workspace.usable, claim.workspace.claim_hook], [false, { status: 'pending', error: null }]);
    const last = (await s.pollUntilUsable(claim.workspace.id)).at(-1)!;
    assert.deepEqual([last.latest_build.reason, last.claim_hook, last.agents.map((a) => a.ready)], ['claim', { status: 'succeeded', error: null }, [true]]);

    const bad = await s.create(failing, 'unlucky');
    assert.equal(bad.claimed, true);
    const failed = await waitFor(
      async () => {
        const w = (await s.call('GET', `/api/v1/workspaces/${bad.workspace.id}`, { token: s.token })).body as unknown as Ws;
        return w.claim_hook?.status === 'failed' ? w : undefined;
      },
      { timeoutMs: 60_000, what: 'the failed claim hook' },
    );
    assert.equal(failed.usable, false);
    assert.match(failed.claim_hook!.error!, /claim hook exited with status 3: no disk/);
  });
});
