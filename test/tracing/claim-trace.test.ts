import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startApi, type Api } from '@warmpool/api';
import { startProvisionerSim, loadSimOptions, type ProvisionerSim } from '@warmpool/provisioner-sim';
import { startReconciler, type Reconciler } from '@warmpool/reconciler';
import { createLogger, SpanKind, startMemoryTracing, withSpan, type FinishedSpan } from '@warmpool/runtime';
import { client, seedEligiblePrebuild, userWithRole } from '../support/api.js';
import { createTestDatabase, createTestQueuePrefix, type TestDatabase } from '../support/env.js';
import { testConfig } from '../support/pipeline.js';
import { seedPresets } from '../support/seed.js';
import { waitFor } from '../support/wait.js';

// Issue 28: one claim through the API, served by a provisioner, is one trace: the HTTP request, the claim, the outbox
// publish, the provisioner's build and engine call, the result applied, and the refill reconcile it triggers.
let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let tracing: Awaited<ReturnType<typeof startMemoryTracing>>;
let api: Api;
let reconciler: Reconciler;
let sim: ProvisionerSim;

before(async () => {
  tracing = await startMemoryTracing();
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  const config = testConfig(db.url, prefix.prefix, { WARMPOOL_METRICS_REFRESH_MS: '3600000' });
  const logger = createLogger('test', { level: 'silent' });
  api = await startApi({ config, logger, pool: db.pool, port: 0 });
  reconciler = await startReconciler({ config, logger, pool: db.pool, relayPollMs: 1_000 });
  sim = startProvisionerSim({ config, logger, sim: loadSimOptions({ SIM_BUILD_MS: '10', SIM_BUILD_JITTER_MS: '0', SIM_AGENT_READY_MS: '0', SIM_SEED: '1' }) });
});
after(async () => {
  await sim?.close();
  await reconciler?.close();
  await api?.close();
  await prefix?.cleanup();
  await db?.drop();
  await tracing?.shutdown();
});

test('a claim through the API is one trace across api, relay, provisioner, results and the refill', async () => {
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  await seedEligiblePrebuild(db.pool, p!);
  const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM organizations WHERE id = $1', [p!.organizationId]);
  const { token } = await userWithRole(db.pool, 'member', p!.organizationId);
  tracing.reset();

  const res = await client(api.url)('POST', `/api/v1/organizations/${rows[0]!.name}/workspaces`, { token, body: { template_id: p!.templateId, preset_id: p!.presetId, name: 'traced' } });
  assert.equal(res.status, 201);
  assert.equal(res.body.claimed, true);

  const claim = await waitFor(() => tracing.spans().find((s) => s.name === 'claim'), { what: 'the claim span' });
  const inTrace = (name: string, extra: (s: FinishedSpan) => boolean = () => true) => tracing.spans().find((s) => s.traceId === claim.traceId && s.name === name && extra(s));
  // The claim's build: its request reaches the provisioner and its result comes back, all in the claim's trace.
  const claimBuild = (s: FinishedSpan) => s.attributes['warmpool.build.id'] === claim.attributes['warmpool.build.id'];
  await waitFor(() => inTrace('build result', (s) => claimBuild(s) && s.attributes['warmpool.build.result'] === 'build-succeeded'), { what: 'the claim build’s build-succeeded result span in the claim’s trace' });
  // The refill the claim triggers is in the same trace (its reconcile job was enqueued inside the claim span).
  await waitFor(() => inTrace('reconcile preset', (s) => s.attributes['warmpool.reconcile.trigger'] === 'claim'), { what: 'the refill reconcile in the claim’s trace' });
  // The publish span ends when BullMQ's add returns, which can be after the provisioner has already answered.
  await waitFor(() => inTrace('outbox publish', (s) => s.attributes['messaging.destination.name'] === 'build-requests'), { what: 'the claim build’s publish span' });

  const spans = tracing.spans().filter((s) => s.traceId === claim.traceId);
  const byName = (name: string) => spans.filter((s) => s.name === name);
  const server = spans.find((s) => s.kind === SpanKind.SERVER);
  assert.ok(server, 'an HTTP server span');
  assert.equal(server.name, 'POST /api/v1/organizations/:org/workspaces', 'named by route template, not by URL');
  assert.equal(server.parentSpanId, undefined, 'the request starts the trace');
  assert.equal(claim.parentSpanId, server.spanId, 'the claim is the request’s child');
  assert.equal(claim.attributes['warmpool.claim.served'], 'warm');
  const publish = byName('outbox publish').find((s) => s.attributes['messaging.destination.name'] === 'build-requests');
  assert.ok(publish, 'the relay published the claim build in the trace');
  assert.equal(publish.parentSpanId, claim.spanId, 'the outbox row carried the claim span');
  const request = byName('build request').find(claimBuild);
  assert.ok(request, 'the provisioner’s build request span');
  assert.equal(request.parentSpanId, publish.spanId);
  const engine = byName('provisioner engine build').find((s) => s.parentSpanId === request.spanId);
  assert.ok(engine, 'the engine call is a child of the build request');
  const results = byName('build result').filter(claimBuild);
  // build-started and the outcome are reported by the build request, agent-ready from within the engine call.
  assert.ok(results.length >= 2, `results of the claim build: ${results.map((s) => s.attributes['warmpool.build.result']).join(', ')}`);
  assert.ok(results.every((s) => s.parentSpanId === request.spanId || s.parentSpanId === engine.spanId), 'results are children of the build that reported them');
  // PostgreSQL client spans: the claim's own statements are its children, named by operation, never by their text.
  const statements = spans.filter((s) => s.kind === SpanKind.CLIENT && s.attributes['db.system.name'] === 'postgresql');
  assert.ok(statements.some((s) => s.parentSpanId === claim.spanId), `a PostgreSQL span under the claim: ${statements.map((s) => s.name).join(', ')}`);
  assert.ok(statements.every((s) => /^postgresql ([A-Z]+|transaction)$/.test(s.name) && s.attributes['db.query.text'] === undefined));
});

test('a statement outside any trace starts no span', async () => {
  // (Other services of this process may be tracing meanwhile: the statement is recognised by its operation.)
  await db.pool.query('VALUES (1)');
  await withSpan('traced', {}, () => db.pool.query('VALUES (2)'));
  const values = tracing.spans().filter((s) => s.name === 'postgresql VALUES');
  assert.equal(values.length, 1, 'only the statement inside a span is traced');
  assert.equal(values[0]!.parentSpanId, tracing.spans().find((s) => s.name === 'traced')!.spanId);
  assert.ok(tracing.spans().every((s) => !(s.name.startsWith('postgresql') && s.parentSpanId === undefined)), 'no PostgreSQL span starts a trace');
});
