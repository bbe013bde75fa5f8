import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, createTestQueuePrefix, type TestDatabase } from '../../../test/support/env.js';
import { testConfig } from '../../../test/support/pipeline.js';
import { ensureOrganization } from '../src/commands/bootstrap.js';
import { importManifestFile } from '../src/commands/import.js';
import { renderReplay, replayCommand } from '../src/commands/replay.js';
import { UsageError } from '../src/output.js';

/** `warmpool replay` in-process (the exit-code mapping of UsageError is covered by cli.test.ts). */

let db: TestDatabase;
let prefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'warmpool-cli-replay-'));
let presetId: string;

before(async () => {
  db = await createTestDatabase();
  prefix = await createTestQueuePrefix();
  await ensureOrganization(db.pool, 'acme');
  const config = testConfig(db.url, prefix.prefix);
  await importManifestFile(db.pool, config, { text: readFileSync('examples/web-app.json', 'utf8'), org: 'acme', template: 'web', activate: false });
  presetId = (await db.pool.query<{ id: string }>(`SELECT id FROM presets WHERE name = 'eu-small'`)).rows[0]!.id;
  // Two days of one request every 15 minutes, all hits.
  await db.pool.query(
    `INSERT INTO demand_events (preset_id, build_id, hit, requested_at)
     SELECT $1, gen_random_uuid(), true, date_trunc('hour', now()) - make_interval(mins => m * 15 + 1) FROM generate_series(0, 191) m`,
    [presetId],
  );
});
after(async () => {
  await prefix.cleanup();
  await db.drop();
});

test('replays the current policy per hour', async () => {
  const result = await replayCommand(db.pool, presetId, { days: 1 });
  assert.deepEqual([result.policy, result.hours.length, result.totals.requests, result.totals.hits, result.recorded.requests], ['current', 24, 96, 96, 96]);
  assert.ok(result.hours.every((h) => h.desired === 3));
  assert.match(renderReplay(result), /replayed: 96 requests, 96 hits, 0 misses, hit rate 100\.0%, 72\.0 prebuild-hours/);
});

test('replays a proposed prebuilds fragment from a YAML file', async () => {
  const policy = path.join(tmp, 'policy.yaml');
  writeFileSync(policy, 'instances: 0\nautoscaling:\n  expression: "claims_60m >= 2 ? 2 : 1"\n');
  const result = await replayCommand(db.pool, presetId, { days: 1, policyFile: policy });
  assert.equal(result.policy, 'proposed');
  assert.ok(result.totals.prebuildHours < 72, 'a smaller pool than the current 3');
  assert.ok((result.sources.expression ?? 0) > 0);
  assert.match(renderReplay(result), /proposed policy/);
});

test('bad input is a UsageError naming the field', async () => {
  const policy = path.join(tmp, 'bad.yaml');
  writeFileSync(policy, 'autoscaling:\n  expression: "claims_61m"\n');
  await assert.rejects(replayCommand(db.pool, presetId, { days: 7, policyFile: policy }), (err: Error) => err instanceof UsageError && /prebuilds\.autoscaling\.expression: unknown variable or function "claims_61m"/.test(err.message));
  await assert.rejects(replayCommand(db.pool, presetId, { days: 0 }), (err: Error) => err instanceof UsageError && /--days/.test(err.message));
  await assert.rejects(replayCommand(db.pool, 'nope', { days: 1 }), UsageError);
  await assert.rejects(replayCommand(db.pool, presetId, { days: 1, policyFile: path.join(tmp, 'missing.yaml') }), UsageError);
});
