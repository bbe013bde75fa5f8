/**
 * `npm run trace:picture`: one claim's trace, as exported. Starts the services as processes exporting OTLP/JSON to a
 * local receiver, makes one claim of a warm prebuild through the API, waits for its build result and refill in the
 * claim's trace, and draws that trace to docs/trace-claim.svg (test/tracing/waterfall.ts). The picture in
 * docs/OPERATIONS.md is made this way.
 */
import { writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { client, seedEligiblePrebuild, userWithRole } from '../support/api.js';
import { createTestDatabase, createTestQueuePrefix } from '../support/env.js';
import { startOtlpReceiver, startTracedServices, stopServices } from '../support/otlp.js';
import { seedPresets } from '../support/seed.js';
import { waitFor } from '../support/wait.js';
import { freePort } from '../chaos/servers.js';
import { renderWaterfall, spansOfOtlpJson } from './waterfall.js';

const OUT = process.argv[2] ?? 'docs/trace-claim.svg';
const receiver = await startOtlpReceiver();
const db = await createTestDatabase();
const prefix = await createTestQueuePrefix();
let children: ChildProcess[] = [];
try {
  const apiPort = await freePort();
  const protocols = { api: 'http/json', reconciler: 'http/json', 'provisioner-sim': 'http/json' };
  children = await startTracedServices({ databaseUrl: db.url, queuePrefix: prefix.prefix, endpoint: receiver.endpoint, apiPort, protocols });
  const [p] = await seedPresets(db.pool, [{ instances: 1 }]);
  await seedEligiblePrebuild(db.pool, p!);
  const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM organizations WHERE id = $1', [p!.organizationId]);
  const { token } = await userWithRole(db.pool, 'member', p!.organizationId);
  const res = await client(`http://127.0.0.1:${apiPort}`)('POST', `/api/v1/organizations/${rows[0]!.name}/workspaces`, { token, body: { template_id: p!.templateId, preset_id: p!.presetId, name: 'pictured' } });
  if (res.status !== 201) throw new Error(`claim: ${res.status} ${JSON.stringify(res.body)}`);
  const all = () => receiver.exports.filter((e) => e.contentType.includes('json')).flatMap((e) => spansOfOtlpJson(JSON.parse(e.body.toString('utf8'))));
  const claim = await waitFor(() => all().find((s) => s.name === 'claim'), { timeoutMs: 30_000, what: 'the claim span' });
  const inTrace = () => all().filter((s) => s.traceId === claim.traceId);
  // Complete when the claim build's success and the refill's build request have both been exported.
  await waitFor(() => inTrace().filter((s) => s.name === 'build request').length >= 2 && inTrace().some((s) => s.name === 'reconcile preset'), { timeoutMs: 30_000, what: 'the claim build and its refill in the trace' });
  // Let the last batches (the refill's results) arrive: the services export every 200 ms.
  const settled = await waitFor(
    async () => {
      const before = inTrace().length;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return inTrace().length === before ? inTrace() : undefined;
    },
    { timeoutMs: 30_000, what: 'no more spans of the trace' },
  );
  writeFileSync(OUT, renderWaterfall(settled, 'One claim through the API, as exported (OTLP/JSON): api → outbox → provisioner → results → refill'));
  console.log(`${OUT}: ${settled.length} spans of trace ${claim.traceId}`);
} finally {
  await stopServices(children);
  receiver.close();
  await prefix.cleanup();
  await db.drop();
}
