import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { createQueueSet, createRedis } from '@warmpool/bus';
import { client, seedEligiblePrebuild, userWithRole } from '../support/api.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../support/env.js';
import { startOtlpReceiver, startTracedServices, stopServices } from '../support/otlp.js';
import { seedPresets } from '../support/seed.js';
import { waitFor } from '../support/wait.js';
import { freePort } from '../chaos/servers.js';

// Issue 28, end to end: every service started as its own process (through runService) with the standard variables
// exports its spans over OTLP/HTTP, each under its own service.name. Half the services speak http/json, half
// http/protobuf; the receiver is a bare HTTP server (protobuf carries strings as UTF-8, so names are found in the bytes).

let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let children: ChildProcess[] = [];
let apiPort: number;

const PROTOCOL: Record<string, string> = { api: 'http/json', reconciler: 'http/protobuf', 'provisioner-sim': 'http/json', scheduler: 'http/protobuf', notifier: 'http/json' };

before(async () => {
  receiver = await startOtlpReceiver();
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  apiPort = await freePort();
  children = await startTracedServices({ databaseUrl: db.url, queuePrefix: prefix.prefix, endpoint: receiver.endpoint, apiPort, protocols: PROTOCOL });
});
after(async () => {
  await stopServices(children);
  receiver?.close();
  await prefix?.cleanup();
  await db?.drop();
});

test('every service exports its spans over OTLP/HTTP (json and protobuf) under its own service.name', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  await seedEligiblePrebuild(db.pool, p!);
  const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM organizations WHERE id = $1', [p!.organizationId]);
  const { token } = await userWithRole(db.pool, 'member', p!.organizationId);
  // A claim exercises the api, the relay and reconciler, the provisioner; the scheduler ticks every second.
  const res = await client(`http://127.0.0.1:${apiPort}`)('POST', `/api/v1/organizations/${rows[0]!.name}/workspaces`, { token, body: { template_id: p!.templateId, preset_id: p!.presetId, name: 'exported' } });
  assert.equal(res.status, 201);
  // The notifier only works on events: hand it one (malformed: its rejected attempt is still a span).
  const redis = createRedis(REDIS_URL, { role: 'producer' });
  const queues = createQueueSet(redis, prefix.prefix);
  try {
    await queues.notifications.add('probe', {}, { attempts: 1 });
  } finally {
    await queues.close();
    await redis.quit();
  }

  for (const [service, protocol] of Object.entries(PROTOCOL)) {
    const name = `warmpool-${service}`;
    const found = await waitFor(() => receiver.exports.find((e) => e.body.includes(Buffer.from(name))), { timeoutMs: 30_000, intervalMs: 50, what: `spans exported by ${service}` });
    assert.equal(found.path, '/v1/traces', `${service} posts to the traces path`);
    assert.match(found.contentType, protocol === 'http/json' ? /application\/json/ : /application\/x-protobuf/, `${service} speaks ${protocol}`);
    if (protocol === 'http/json') {
      const body = JSON.parse(found.body.toString('utf8')) as { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: unknown[] }[] }[] };
      const resource = body.resourceSpans[0]!.resource.attributes.find((a) => a.key === 'service.name');
      assert.equal(resource?.value.stringValue, name);
      assert.ok(body.resourceSpans[0]!.scopeSpans.some((s) => s.spans.length > 0), `${service} exported at least one span`);
    }
  }
});
