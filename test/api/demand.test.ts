import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createQueueSet, createRedis, type QueueSet } from '@warmpool/bus';
import { loadDemandTrace, pruneDemand } from '@warmpool/db';
import { OutboxRelay, reconcilePreset, registerPoolMetrics } from '@warmpool/operations';
import { createLogger } from '@warmpool/runtime';
import { REDIS_URL } from '../support/env.js';
import { seedOrganization, seedTemplate } from '../support/seed.js';
import { client, scrapeMetrics, seedEligiblePrebuild, startTestApi, userWithRole } from '../support/api.js';

/** Demand history: recording hits and misses with the claim, metrics, status fields, expression fallback, replay. */

let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;
let orgId: string;
let owner: { userId: string; token: string };
let member: { userId: string; token: string };
let redis: ReturnType<typeof createRedis>;
let queues: QueueSet;

before(async () => {
  env = await startTestApi();
  call = client(env.api.url);
  orgId = await seedOrganization(env.db.pool, 'demand-org');
  owner = await userWithRole(env.db.pool, 'owner', null);
  member = await userWithRole(env.db.pool, 'member', orgId);
  redis = createRedis(REDIS_URL, { role: 'producer', name: 'test' });
  queues = createQueueSet(redis, env.prefix);
});
after(async () => {
  await queues.close();
  await redis.quit();
  await env.stop();
});

/** A template whose active version has one preset `p` with the given autoscaling fragment; returns its ids. */
async function importPreset(autoscaling: object | undefined, instances = 1) {
  const templateId = await seedTemplate(env.db.pool, orgId);
  const manifest = { name: 'v1', presets: [{ name: 'p', prebuilds: { instances, autoscaling } }] };
  const res = await call('POST', `/api/v1/templates/${templateId}/versions?activate=true`, { token: owner.token, body: manifest });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const { rows } = await env.db.pool.query<{ id: string; template_version_id: string }>(
    'SELECT p.id, p.template_version_id FROM presets p JOIN template_versions v ON v.id = p.template_version_id WHERE v.template_id = $1',
    [templateId],
  );
  return { templateId, presetId: rows[0]!.id, versionId: rows[0]!.template_version_id, organizationId: orgId };
}

const request = (templateId: string, name: string) =>
  call('POST', '/api/v1/organizations/demand-org/workspaces', { token: member.token, body: { template_id: templateId, name } });
const status = async (presetId: string) => (await call('GET', `/api/v1/presets/${presetId}/status`, { token: owner.token })).body;

/** Inserts recorded requests `minutesAgo` before now (hit or miss) with placeholder build ids. */
async function recordRequests(presetId: string, minutesAgo: number[], hit = true) {
  await env.db.pool.query(
    `INSERT INTO demand_events (preset_id, build_id, hit, requested_at)
     SELECT $1, gen_random_uuid(), $3, now() - make_interval(mins => m) FROM unnest($2::int[]) m`,
    [presetId, minutesAgo, hit],
  );
}

test('a manifest with an invalid expression is refused with the field path and stores nothing', async () => {
  const templateId = await seedTemplate(env.db.pool, orgId);
  const before = (await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM presets')).rows[0]!.n;
  const manifest = { name: 'v1', presets: [{ name: 'p', prebuilds: { instances: 1, autoscaling: { expression: 'max(scheduled_target, claims_60)' } } }] };
  const res = await call('POST', `/api/v1/templates/${templateId}/versions`, { token: owner.token, body: manifest });
  assert.equal(res.status, 400);
  assert.equal(res.body.details![0]!.path, 'presets[0].prebuilds.autoscaling.expression');
  assert.match(res.body.details![0]!.message, /unknown variable or function "claims_60"/);
  assert.equal((await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM presets')).rows[0]!.n, before);
});

test('hits and misses are recorded with their build in the request transaction, counted and shown in status and metrics', async () => {
  const p = await importPreset({ expression: 'max(scheduled_target, claims_60m + misses_60m + 1)' });
  const stored = await env.db.pool.query<{ autoscaling: unknown }>('SELECT autoscaling FROM presets WHERE id = $1', [p.presetId]);
  assert.deepEqual(stored.rows[0]!.autoscaling, { expression: 'max(scheduled_target, claims_60m + misses_60m + 1)' });

  const miss = await request(p.templateId, 'first');
  assert.deepEqual([miss.status, miss.body.claimed], [201, false]);
  await seedEligiblePrebuild(env.db.pool, p);
  const hit = await request(p.templateId, 'second');
  assert.deepEqual([hit.status, hit.body.claimed], [201, true]);
  assert.equal((await request(p.templateId, 'second')).status, 409, 'a refused request records nothing');

  const events = await env.db.pool.query<{ hit: boolean; build_id: string }>('SELECT hit, build_id FROM demand_events WHERE preset_id = $1 ORDER BY id', [p.presetId]);
  assert.deepEqual(events.rows, [
    { hit: false, build_id: miss.body.build_id },
    { hit: true, build_id: hit.body.build_id },
  ]);
  const counters = await env.db.pool.query<{ name: string; value: string }>('SELECT name, value FROM preset_counters WHERE preset_id = $1 ORDER BY name', [p.presetId]);
  assert.deepEqual(counters.rows.map((r) => [r.name, Number(r.value)]), [['claimed', 1], ['missed', 1]]);

  // The wait until usable is read from the build: unknown while pending, then ready time minus request time.
  let trace = await loadDemandTrace(env.db.pool, p.presetId, new Date(Date.now() - 3_600_000), new Date(Date.now() + 1000));
  assert.deepEqual(trace.map((e) => [e.hit, e.waitSeconds]), [[false, null], [true, null]]);
  await env.db.pool.query(`UPDATE builds SET job_status = 'succeeded', completed_at = now() + interval '90 seconds' WHERE id = $1`, [miss.body.build_id]);
  trace = await loadDemandTrace(env.db.pool, p.presetId, new Date(Date.now() - 3_600_000), new Date(Date.now() + 1000));
  assert.ok(trace[0]!.waitSeconds! >= 89 && trace[0]!.waitSeconds! < 100, String(trace[0]!.waitSeconds));

  const s = await status(p.presetId);
  assert.deepEqual(
    { targetSource: s.targetSource, desiredNow: s.desiredNow, hitRate24h: s.hitRate24h, hitRate7d: s.hitRate7d, requests24h: s.requests24h, autoscalingError: s.autoscalingError },
    { targetSource: 'expression', desiredNow: 3, hitRate24h: 0.5, hitRate7d: 0.5, requests24h: 2, autoscalingError: null },
  );

  const text = await scrapeMetrics(env.api.url, owner.token);
  for (const type of ['warm', 'cold']) {
    const line = text.split('\n').find((l) => l.startsWith('warmpool_preset_workspace_request_duration_seconds_count{') && l.includes(`type="${type}"`) && l.includes(`template_name="`));
    assert.ok(line?.endsWith(' 1'), `${type}: ${line}`);
  }
  const registry = new Registry();
  const metrics = registerPoolMetrics(registry, env.db.pool, createLogger('test', { level: 'silent' }), 60_000);
  await metrics.refresh();
  const byTemplate = async (name: string) => {
    const { rows } = await env.db.pool.query<{ name: string }>('SELECT name FROM templates WHERE id = $1', [p.templateId]);
    return (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.template_name === rows[0]!.name)?.value;
  };
  assert.equal(await byTemplate('warmpool_prebuilt_workspaces_missed_total'), 1);
  assert.equal(await byTemplate('warmpool_prebuilt_workspaces_claimed_total'), 1);
  assert.equal(await byTemplate('warmpool_prebuilt_workspaces_hit_ratio'), 0.5);
});

test('an expression that fails at run time falls back to the schedule, is logged once and shown in the status', async () => {
  const p = await importPreset({ expression: 'claims_60m / misses_60m' }, 2);
  const lines: { msg: string; level: number; error?: string }[] = [];
  const logger = createLogger('test', { level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  const relay = new OutboxRelay(env.db.pool, queues, logger);
  const deps = { pool: env.db.pool, queues, relay, logger, settings: { backoffIntervalMs: 60_000, backoffLookbackMs: 3_600_000, failureHardLimit: 3, maxInflightPrebuildBuilds: 100 } };
  const first = await reconcilePreset(deps, p.presetId);
  assert.equal(first.kind === 'executed' && first.created, 2, 'the scheduled target (base 2)');
  await reconcilePreset(deps, p.presetId);
  const warnings = lines.filter((l) => l.msg.startsWith('autoscaling policy failed'));
  assert.equal(warnings.length, 1, 'logged once');
  assert.match(warnings[0]!.error!, /not a finite number/);
  const s = await status(p.presetId);
  assert.deepEqual([s.targetSource, s.desiredNow], ['expression_fallback', 2]);
  assert.match(String(s.autoscalingError), /not a finite number/);
});

test('a forecast preset is sized from its history and says so; cold start uses the schedule', async () => {
  const p = await importPreset({ target_hit_rate: 0.95, max: 30, lead_time: 600 }, 1);
  assert.deepEqual([(await status(p.presetId)).targetSource, (await status(p.presetId)).desiredNow], ['scheduled', 1], 'no history: the schedule');
  // Eight days of 12 requests per hour.
  await recordRequests(p.presetId, Array.from({ length: 8 * 24 * 12 }, (_, i) => i * 5 + 2));
  const s = await status(p.presetId);
  assert.equal(s.targetSource, 'forecast');
  assert.ok(Math.abs(Number(s.forecastRate) - 12) < 0.5, String(s.forecastRate));
  assert.equal(s.desiredNow, 6, '12/h over 10 minutes: Poisson mean 2, 95 % quantile 5, plus one');
  assert.equal(s.hitRate7d, 1);
});

test('replay: current and proposed policies per hour; bad proposals are 400 naming the field', async () => {
  const p = await importPreset(undefined, 2);
  await recordRequests(p.presetId, Array.from({ length: 24 * 6 }, (_, i) => i * 10 + 3));
  const current = await call('POST', `/api/v1/presets/${p.presetId}/replay`, { token: member.token, body: { days: 1 } });
  assert.equal(current.status, 403, 'members may not read prebuild status');
  const res = await call('POST', `/api/v1/presets/${p.presetId}/replay`, { token: owner.token, body: { days: 1 } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const body = res.body as unknown as { policy: string; hours: { desired: number; requests: number }[]; totals: { requests: number; hits: number; prebuildHours: number }; recorded: { requests: number } };
  assert.equal(body.policy, 'current');
  assert.equal(body.hours.length, 24);
  assert.ok(body.hours.every((h) => h.desired === 2));
  assert.ok(body.totals.requests >= 137 && body.totals.requests <= 145, String(body.totals.requests)); // one every 10 min, up to the last full hour
  assert.equal(body.totals.requests, body.recorded.requests);
  assert.ok(Math.abs(body.totals.prebuildHours - 48) < 1, String(body.totals.prebuildHours));

  const proposed = await call('POST', `/api/v1/presets/${p.presetId}/replay`, { token: owner.token, body: { days: 1, prebuilds: { autoscaling: { expression: 'max(1, claims_30m)' } } } });
  assert.equal(proposed.status, 200, JSON.stringify(proposed.body));
  assert.equal(proposed.body.policy, 'proposed');
  assert.ok((proposed.body.sources as Record<string, number>).expression! > 0);

  const bad = await call('POST', `/api/v1/presets/${p.presetId}/replay`, { token: owner.token, body: { prebuilds: { autoscaling: { expression: 'nope' } } } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.details![0]!.path, 'body.prebuilds.autoscaling.expression');
  const days = await call('POST', `/api/v1/presets/${p.presetId}/replay`, { token: owner.token, body: { days: 40 } });
  assert.equal(days.status, 400);
  const unknown = await call('POST', '/api/v1/presets/00000000-0000-4000-8000-000000000000/replay', { token: owner.token, body: {} });
  assert.equal(unknown.status, 404);
});

test('retention: events older than 35 days are pruned', async () => {
  const p = await importPreset({ expression: 'eligible' });
  await recordRequests(p.presetId, [60, 36 * 24 * 60]);
  assert.equal(await pruneDemand(env.db.pool), 1);
  const { rows } = await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM demand_events WHERE preset_id = $1', [p.presetId]);
  assert.equal(rows[0]!.n, 1);
});

test('manifest dry run: which pools an activation would create, rotate (resize) or destroy; nothing stored', async () => {
  const p = await importPreset({ expression: 'eligible' }, 2);
  await seedEligiblePrebuild(env.db.pool, p);
  const before = (await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM template_versions')).rows[0]!.n;
  const manifest = {
    name: 'v2',
    presets: [
      { name: 'p', prebuilds: { instances: 3, autoscaling: { target_hit_rate: 0.9 } } },
      { name: 'fresh', prebuilds: { instances: 1 } },
    ],
  };
  const res = await call('POST', `/api/v1/templates/${p.templateId}/versions/dry-run`, { token: owner.token, body: manifest });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.changes, [
    { preset: 'p', change: 'rotated', desiredBefore: 2, desiredAfter: 3, resized: true, prebuildsReplaced: 1, autoscaling: 'forecast' },
    { preset: 'fresh', change: 'created', desiredBefore: null, desiredAfter: 1, resized: false, prebuildsReplaced: 0, autoscaling: null },
  ]);
  const gone = await call('POST', `/api/v1/templates/${p.templateId}/versions/dry-run`, { token: owner.token, body: { name: 'v3', presets: [] } });
  assert.deepEqual(gone.body.changes, [{ preset: 'p', change: 'destroyed', desiredBefore: 2, desiredAfter: null, resized: false, prebuildsReplaced: 1, autoscaling: null }]);
  const bad = await call('POST', `/api/v1/templates/${p.templateId}/versions/dry-run`, { token: owner.token, body: { name: 'v4', presets: [{ name: 'p', prebuilds: { instances: 1, autoscaling: { expression: 'x' } } }] } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.details![0]!.path, 'presets[0].prebuilds.autoscaling.expression');
  assert.equal((await call('POST', `/api/v1/templates/${p.templateId}/versions/dry-run`, { token: member.token, body: manifest })).status, 403);
  assert.equal((await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM template_versions')).rows[0]!.n, before, 'nothing stored');
});
