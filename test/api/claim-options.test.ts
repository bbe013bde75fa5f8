import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { client, scrapeMetrics, seedEligiblePrebuild, startTestApi, userWithRole } from '../support/api.js';
import { seedOrganization, seedTemplate } from '../support/seed.js';

/** Claim options on create (BEHAVIOUR.md §5.1): validation, require without prebuilds, source on the answer, metrics. */

let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;
let orgId: string;
let owner: { userId: string; token: string };
let member: { userId: string; token: string };

before(async () => {
  env = await startTestApi();
  call = client(env.api.url);
  orgId = await seedOrganization(env.db.pool, 'claims-org');
  owner = await userWithRole(env.db.pool, 'owner', null);
  member = await userWithRole(env.db.pool, 'member', orgId);
});
after(async () => {
  await env.stop();
});

/** A template whose active version has presets `pooled` (keeps 1) and `none` (keeps 0). */
async function importTemplate() {
  const templateId = await seedTemplate(env.db.pool, orgId);
  const manifest = {
    name: 'v1',
    parameters: [{ name: 'size', options: ['s', 'l'] }],
    presets: [
      { name: 'pooled', parameters: { size: 's' }, prebuilds: { instances: 1 } },
      { name: 'none', parameters: { size: 'l' } },
    ],
  };
  const res = await call('POST', `/api/v1/templates/${templateId}/versions?activate=true`, { token: owner.token, body: manifest });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const { rows } = await env.db.pool.query<{ id: string; name: string; template_version_id: string }>(
    'SELECT p.id, p.name, p.template_version_id FROM presets p JOIN template_versions v ON v.id = p.template_version_id WHERE v.template_id = $1',
    [templateId],
  );
  const byName = Object.fromEntries(rows.map((r) => [r.name, r.id]));
  return { templateId, pooled: byName.pooled!, none: byName.none!, versionId: rows[0]!.template_version_id };
}

const create = (body: Record<string, unknown>) => call('POST', '/api/v1/organizations/claims-org/workspaces', { token: member.token, body });
const userWorkspaces = async () => (await env.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM workspaces WHERE owner_id = $1`, [member.userId])).rows[0]!.n;

test('bad claim options answer 400 naming the field and create nothing', async () => {
  const t = await importTemplate();
  const before = await userWorkspaces();
  const cases: [Record<string, unknown>, string][] = [
    [{ wait_ms: -1 }, 'body.wait_ms'],
    [{ wait_ms: 120_001 }, 'body.wait_ms'],
    [{ wait_ms: 1.5 }, 'body.wait_ms'],
    [{ wait_ms: '100' }, 'body.wait_ms'],
    [{ mode: 'sometimes' }, 'body.mode'],
    [{ mode: 'require', parameters: { size: 'l' } }, 'body.mode'],
    [{ mode: 'require', wait_ms: 1_000, preset_id: t.none }, 'body.mode'],
  ];
  for (const [extra, path] of cases) {
    const res = await create({ template_id: t.templateId, name: `bad-${Math.random().toString(36).slice(2, 8)}`, ...extra });
    assert.equal(res.status, 400, `${JSON.stringify(extra)}: ${JSON.stringify(res.body)}`);
    assert.ok(res.body.details?.some((d) => d.path === path), `${JSON.stringify(extra)} names ${path}: ${JSON.stringify(res.body.details)}`);
  }
  // A template whose only request matches no preset: require cannot be served.
  const bare = await seedTemplate(env.db.pool, orgId);
  assert.equal((await call('POST', `/api/v1/templates/${bare}/versions?activate=true`, { token: owner.token, body: { name: 'v1', presets: [] } })).status, 201);
  const noPreset = await create({ template_id: bare, name: 'bare', mode: 'require' });
  assert.equal(noPreset.status, 400);
  assert.equal(noPreset.body.details?.[0]?.path, 'body.mode');
  assert.equal(await userWorkspaces(), before, 'nothing created');
});

test('require with nothing eligible or in flight answers 503 with Retry-After, creating nothing; prefer and bypass build cold', async () => {
  const t = await importTemplate();
  const before = await userWorkspaces();
  const res = await fetch(`${env.api.url}/api/v1/organizations/claims-org/workspaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${member.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ template_id: t.templateId, name: 'req', preset_id: t.pooled, mode: 'require', wait_ms: 5_000 }),
  });
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { error: string }).error, 'prebuild_unavailable');
  assert.equal(res.headers.get('retry-after'), '30', 'no history: the default');
  assert.equal(await userWorkspaces(), before);

  const prefer = await create({ template_id: t.templateId, name: 'pref', preset_id: t.pooled, mode: 'prefer', wait_ms: 5_000 });
  assert.equal(prefer.status, 201);
  assert.deepEqual([prefer.body.source, prefer.body.claimed, prefer.body.predicted_ms], ['cold', false, null]);
  const workspace = prefer.body.workspace as { claim: Record<string, unknown> };
  assert.deepEqual([workspace.claim.source, workspace.claim.mode, workspace.claim.state, workspace.claim.budget_ms], ['cold', 'prefer', 'building', 5_000]);

  // bypass skips an eligible prebuild, and is no demand on the pool (no miss recorded).
  await seedEligiblePrebuild(env.db.pool, { presetId: t.pooled, organizationId: orgId, templateId: t.templateId, versionId: t.versionId });
  const misses = async () => (await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM demand_events WHERE preset_id = $1 AND NOT hit', [t.pooled])).rows[0]!.n;
  const missesBefore = await misses();
  const bypass = await create({ template_id: t.templateId, name: 'byp', preset_id: t.pooled, mode: 'bypass' });
  assert.deepEqual([bypass.status, bypass.body.source, bypass.body.claimed], [201, 'cold', false]);
  assert.equal(await misses(), missesBefore);
  // Without options: exactly today's claim, plus the source on the answer and no claim record.
  const plain = await create({ template_id: t.templateId, name: 'plain', preset_id: t.pooled });
  assert.deepEqual([plain.status, plain.body.claimed, plain.body.source, (plain.body.workspace as { claim: unknown }).claim], [201, true, 'pool', null]);

  const metrics = await scrapeMetrics(env.api.url, owner.token);
  assert.match(metrics, /warmpool_claims_with_options_total\{source="unavailable",mode="require",service="api"\} 1/);
  assert.match(metrics, /warmpool_claims_with_options_total\{source="cold",mode="prefer",service="api"\} 1/);
  assert.match(metrics, /warmpool_claims_with_options_total\{source="cold",mode="bypass",service="api"\} 1/);
});

test('replay with a wait budget reports the reservations it would have made; a budget out of range is 400', async () => {
  const t = await importTemplate();
  const bad = await call('POST', `/api/v1/presets/${t.pooled}/replay`, { token: owner.token, body: { days: 1, wait_ms: 120_001 } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.details?.[0]?.path, 'body.wait_ms');
  // A pool of 1 with no build history (lead time: the 300 s default). The request at 0 s takes the prebuild; its
  // refill, requested at the end of that minute, is ready at 360 s: the one at 250 s can wait 110 s for it within
  // 120 s, the one at 300 s finds only the next refill (ready at 600 s) and misses.
  await env.db.pool.query(
    `INSERT INTO demand_events (preset_id, build_id, hit, requested_at)
     SELECT $1, gen_random_uuid(), false, date_trunc('hour', now()) - interval '2 hours' + make_interval(secs => s) FROM unnest(ARRAY[0, 250, 300]) s`,
    [t.pooled],
  );
  const plain = await call('POST', `/api/v1/presets/${t.pooled}/replay`, { token: owner.token, body: { days: 1 } });
  const waiting = await call('POST', `/api/v1/presets/${t.pooled}/replay`, { token: owner.token, body: { days: 1, wait_ms: 120_000 } });
  assert.equal(waiting.status, 200, JSON.stringify(waiting.body));
  assert.equal(waiting.body.leadTimeSeconds, 300);
  const totals = (r: typeof plain) => r.body.totals as { hits: number; misses: number; reserved: number; reservedShare: number | null };
  assert.deepEqual([totals(plain).hits, totals(plain).misses, totals(plain).reserved], [1, 2, 0]);
  assert.deepEqual([totals(waiting).hits, totals(waiting).misses, totals(waiting).reserved, totals(waiting).reservedShare], [1, 1, 1, 0.5]);
});
