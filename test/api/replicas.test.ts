import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { seedOrganization, seedTemplate, seedVersion } from '../support/seed.js';
import { seedEligiblePrebuild, userWithRole } from '../support/api.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { spawnService } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { freePort } from '../chaos/servers.js';

/** The replicas' principal cache bound: a revoked token may be served this long, never longer. */
const CACHE_MS = 1_000;

// Three `services/api` processes behind one address, as behind a load balancer: a round-robin TCP proxy in front
// of them, one connection per request so the spread is exact. In CI's scale-out rerun they share a Redis Cluster
// and reach PostgreSQL through PgBouncer.

const REPLICAS = 3;
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const children: ChildProcess[] = [];
const ports: number[] = [];
const served: number[] = Array.from({ length: REPLICAS }, () => 0);
let proxy: net.Server;
let proxyPort: number;

function startProxy(): Promise<number> {
  let next = 0;
  proxy = net.createServer((socket) => {
    const i = next++ % REPLICAS;
    served[i]!++;
    const upstream = net.connect(ports[i]!, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as net.AddressInfo).port)));
}

/** One request on a connection of its own (no keep-alive), so the proxy sees every request. */
function request(port: number, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent: false, headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  for (let i = 0; i < REPLICAS; i++) {
    const port = await freePort();
    ports.push(port);
    const env = { DATABASE_URL: db.url, REDIS_URL, WARMPOOL_QUEUE_PREFIX: prefix.prefix, WARMPOOL_HTTP_PORT: String(port), WARMPOOL_BULL_BOARD: 'false', LOG_LEVEL: 'silent', WARMPOOL_API_CACHE_MS: String(CACHE_MS) };
    children.push(spawnService('api', env));
  }
  for (const port of ports) {
    await waitFor(() => new Promise<boolean>((resolve) => http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (r) => (r.resume(), resolve(r.statusCode === 200))).on('error', () => resolve(false))), {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: `api replica on ${port}`,
    });
  }
  proxyPort = await startProxy();
});
after(async () => {
  proxy?.close();
  await Promise.all(children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : (c.once('exit', () => resolve()), c.kill('SIGTERM'))))));
  await prefix.cleanup();
  await db.drop();
});

test('100 concurrent claims spread over 3 API replicas: exactly as many claims as eligible prebuilds, none twice', async () => {
  const org = await seedOrganization(db.pool, 'org-r');
  const templateId = await seedTemplate(db.pool, org);
  const { versionId, presetIds } = await seedVersion(db.pool, templateId, [{ name: 'p', instances: 40, parameters: { size: 'small' } }]);
  const p = { presetId: presetIds[0]!, organizationId: org, templateId, versionId };
  const prebuilds: string[] = [];
  for (let i = 0; i < 40; i++) prebuilds.push(await seedEligiblePrebuild(db.pool, p));
  const member = await userWithRole(db.pool, 'member', org);
  served.fill(0);

  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      request(proxyPort, 'POST', '/api/v1/organizations/org-r/workspaces', member.token, { template_id: templateId, name: `dev-${i}`, parameters: { size: 'small' } }),
    ),
  );
  assert.deepEqual(served, [34, 33, 33], 'round robin over the replicas');
  assert.ok(results.every((r) => r.status === 201), JSON.stringify(results.find((r) => r.status !== 201)));
  const claimed = results.filter((r) => r.body.claimed === true).map((r) => (r.body.workspace as { id: string }).id);
  assert.equal(claimed.length, 40);
  assert.deepEqual([...claimed].sort(), [...prebuilds].sort(), 'each eligible prebuild claimed exactly once');
  assert.equal(results.filter((r) => r.body.claimed === false).length, 60, 'the rest got fresh workspaces');
  const { rows } = await db.pool.query<{ n: number; owners: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT w.owner_id)::int AS owners FROM builds b JOIN workspaces w ON w.id = b.workspace_id WHERE b.reason = 'claim'`,
  );
  assert.deepEqual(rows[0], { n: 40, owners: 1 }, 'one claim build per claimed prebuild');
});

test('a revoked token stops working on every replica within the principal cache bound (WARMPOOL_API_CACHE_MS)', async (t) => {
  const org = await seedOrganization(db.pool, 'org-t');
  const member = await userWithRole(db.pool, 'member', org);
  for (const port of ports) assert.equal((await request(port, 'GET', '/api/v1/users/me', member.token)).status, 200);
  // Revocation is expiry now (there is no other way to end a token); each replica may serve its cached principal
  // for at most CACHE_MS, then every one refuses it.
  await db.pool.query(`UPDATE api_tokens SET expires_at = now() WHERE user_id = $1`, [member.userId]);
  const revokedAt = Date.now();
  const after = await waitFor(
    async () => {
      const answers = await Promise.all(ports.map((port) => request(port, 'GET', '/api/v1/users/me', member.token)));
      return answers.every((r) => r.status === 401) ? answers : undefined;
    },
    { timeoutMs: CACHE_MS * 4, intervalMs: 50, what: 'every replica refusing the revoked token' },
  );
  assert.deepEqual(after.map((r) => r.body.error), ports.map(() => 'unauthenticated'));
  t.diagnostic(`revoked token refused by all ${ports.length} replicas after ${Date.now() - revokedAt} ms (cache bound ${CACHE_MS} ms)`);
});
