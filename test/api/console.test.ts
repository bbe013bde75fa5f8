import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import cookie from '@fastify/cookie';
import Fastify from 'fastify';
import { recordPoolSamples, SYSTEM_USER_ID, type Principal } from '@warmpool/db';
import { createLogger, type Config } from '@warmpool/runtime';
import type { ApiDeps } from '@warmpool/api';
import { buildConsole } from '../../services/api/console/build.js';
import { CONSOLE_CSP, consoleRoutes } from '../../services/api/src/console.js';
import { seedPresets } from '../support/seed.js';
import { client, seedEligiblePrebuild, startTestApi, userWithRole } from '../support/api.js';

// The console's server side: its shell and assets, the session endpoints, the cookie rule, and its read routes.
let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;
let preset: Awaited<ReturnType<typeof seedPresets>>[number];
let otherPreset: string;
const tokens: Record<string, string> = {};

before(async () => {
  env = await startTestApi();
  call = client(env.api.url);
  [preset] = (await seedPresets(env.db.pool, [{ instances: 2 }])) as [typeof preset];
  otherPreset = (await seedPresets(env.db.pool, [{ instances: 1 }]))[0]!.presetId;
  tokens.owner = (await userWithRole(env.db.pool, 'owner', null)).token;
  tokens.orgAdmin = (await userWithRole(env.db.pool, 'org-admin', preset.organizationId)).token;
  tokens.member = (await userWithRole(env.db.pool, 'member', preset.organizationId)).token;
  const otherOrganization = (await env.db.pool.query<{ organization_id: string }>('SELECT organization_id FROM templates t JOIN template_versions v ON v.template_id = t.id JOIN presets p ON p.template_version_id = v.id WHERE p.id = $1', [otherPreset])).rows[0]!.organization_id;
  tokens.outsider = (await userWithRole(env.db.pool, 'member', otherOrganization)).token;
});
after(async () => env?.stop());

const session = (body: unknown, headers: Record<string, string> = { 'x-warmpool-console': '1' }) =>
  fetch(`${env.api.url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

test('the shell and hashed assets are served under the CSP; unknown assets 404', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'warmpool-console-'));
  try {
    const { files } = await buildConsole(path.join(dir, 'console'));
    const app = Fastify();
    const deps = { logger: createLogger('test', { level: 'silent' }), config: { publicUrl: 'http://127.0.0.1' } as Config } as ApiDeps;
    await consoleRoutes(app, deps, async () => undefined, `${path.join(dir, 'console')}/`);
    const shell = await app.inject('/console/presets/00000000-0000-0000-0000-000000000000');
    assert.equal(shell.statusCode, 200);
    assert.equal(shell.headers['content-security-policy'], CONSOLE_CSP);
    assert.equal(shell.headers['x-content-type-options'], 'nosniff');
    for (const f of files) {
      assert.ok(shell.body.includes(`/console/assets/${f.name}`), `the shell names ${f.name}`);
      const asset = await app.inject(`/console/assets/${f.name}`);
      assert.equal(asset.statusCode, 200);
      assert.match(String(asset.headers['content-type']), f.name.endsWith('.js') ? /text\/javascript/ : /text\/css/);
      assert.match(String(asset.headers['cache-control']), /immutable/);
      const compressed = await app.inject({ url: `/console/assets/${f.name}`, headers: { 'accept-encoding': 'gzip, deflate, br' } });
      assert.equal(compressed.headers['content-encoding'], 'br');
      assert.deepEqual(brotliDecompressSync(compressed.rawPayload), asset.rawPayload);
    }
    assert.doesNotMatch(shell.body, /https?:\/\//, 'the shell links nothing outside the server');
    assert.equal((await app.inject('/console/assets/nope.js')).statusCode, 404);
    assert.equal((await app.inject('/console')).headers.location, '/console/');
    await app.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sign-in sets the shared HttpOnly session cookie; API calls use it only with the console header', async () => {
  assert.equal((await session({ token: tokens.owner }, {})).status, 403, 'without the console header (cross-site forms cannot send it)');
  const bad = await session({ token: 'wp_notarealtokenatallnotreally' });
  assert.equal(bad.status, 401);
  assert.equal(((await bad.json()) as { details: { path: string }[] }).details[0]!.path, 'body.token');
  const missing = await session({});
  assert.equal(missing.status, 400);
  const ok = await session({ token: tokens.orgAdmin });
  assert.equal(ok.status, 200);
  const cookie = ok.headers.get('set-cookie') ?? '';
  assert.match(cookie, /^warmpool_session=wp_/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.match(cookie, /Path=\//);
  const pair = cookie.split(';')[0]!;
  const me = (headers: Record<string, string>) => fetch(`${env.api.url}/api/v1/users/me`, { headers: { cookie: pair, ...headers } });
  assert.equal((await me({})).status, 401, 'a cookie alone is not an API credential');
  assert.equal((await me({ 'x-warmpool-console': '1' })).status, 200);
  const out = await fetch(`${env.api.url}/console/session`, { method: 'DELETE', headers: { 'x-warmpool-console': '1' } });
  assert.equal(out.status, 204);
  assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
});

test('behind an https public URL the session cookie is Secure as well; ending it expires it at once', async () => {
  const app = Fastify();
  await app.register(cookie);
  const deps = { logger: createLogger('test', { level: 'silent' }), config: { publicUrl: 'https://warmpool.example' } as Config } as ApiDeps;
  const principal = { userId: 'u', username: 'alice', roles: [], expiresAt: null } as unknown as Principal;
  await consoleRoutes(app, deps, async (token) => (token === 'wp_good' ? principal : undefined), `${os.tmpdir()}/warmpool-no-console-bundle/`);
  const headers = { 'x-warmpool-console': '1' };
  const started = await app.inject({ method: 'POST', url: '/console/session', headers, payload: { token: ' wp_good ' } });
  assert.equal(started.statusCode, 200);
  const cookieHeader = String(started.headers['set-cookie']);
  assert.match(cookieHeader, /^warmpool_session=wp_good;/);
  for (const attribute of [/; HttpOnly/, /; SameSite=Strict/, /; Secure/, /; Path=\//, /; Max-Age=28800/]) assert.match(cookieHeader, attribute);
  const ended = await app.inject({ method: 'DELETE', url: '/console/session', headers });
  assert.equal(ended.statusCode, 204);
  assert.match(String(ended.headers['set-cookie']), /^warmpool_session=;.*Max-Age=0.*Secure|^warmpool_session=;.*Secure.*Max-Age=0/);
  await app.close();
});

test('scope lists the organizations in reach with their actions and the roles each action needs', async () => {
  const scope = await call('GET', '/api/v1/users/me/scope', { token: tokens.orgAdmin });
  assert.equal(scope.status, 200);
  const body = scope.body as unknown as { organizations: { id: string; actions: string[] }[]; site: { actions: string[]; paused: boolean }; rolesFor: Record<string, string[]> };
  assert.deepEqual(body.organizations.map((o) => o.id), [preset.organizationId]);
  assert.ok(body.organizations[0]!.actions.includes('prebuild.status.read'));
  assert.ok(!body.organizations[0]!.actions.includes('prebuild.operate'));
  assert.deepEqual(body.site.actions, []);
  assert.equal(body.site.paused, false);
  assert.deepEqual(body.rolesFor['prebuild.operate'], ['owner', 'template-admin']);
  const owner = (await call('GET', '/api/v1/users/me/scope', { token: tokens.owner })).body as unknown as { organizations: unknown[]; site: { actions: string[] } };
  assert.equal(owner.organizations.length, 2);
  assert.ok(owner.site.actions.includes('reconciliation.pause'));
});

test('a preset\'s builds, replacement notices and history; refused or hidden outside the scope', async () => {
  const pool = env.db.pool;
  const workspaceId = await seedEligiblePrebuild(pool, preset);
  // A claim of that prebuild whose build replaced a resource, then a failed prebuild build.
  const { userId, token: claimantToken } = await userWithRole(pool, 'member', preset.organizationId);
  await pool.query('UPDATE workspaces SET owner_id = $2, claimed_at = now() WHERE id = $1', [workspaceId, userId]);
  await pool.query(
    `INSERT INTO builds (workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status, replacements, completed_at)
     VALUES ($1, 2, $2, 'start', $3, 'claim', 'succeeded', '{"aws_instance.dev": ["ami"]}', now())`,
    [workspaceId, preset.versionId, userId],
  );
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO workspaces (organization_id, template_id, template_version_id, preset_id, owner_id, name) VALUES ($1, $2, $3, $4, $5, 'prebuild-x') RETURNING id`,
    [preset.organizationId, preset.templateId, preset.versionId, preset.presetId, SYSTEM_USER_ID],
  );
  await pool.query(
    `INSERT INTO builds (workspace_id, build_number, template_version_id, transition, initiator_id, reason, job_status, error, completed_at)
     VALUES ($1, 1, $2, 'start', $3, 'prebuild-create', 'failed', 'quota exceeded', now())`,
    [rows[0]!.id, preset.versionId, SYSTEM_USER_ID],
  );

  const builds = await call('GET', `/api/v1/presets/${preset.presetId}/builds?limit=2`, { token: tokens.orgAdmin });
  assert.equal(builds.status, 200);
  const list = builds.body as unknown as { status: string; error: string | null; reason: string; workspaceName: string | null }[];
  assert.equal(list.length, 2);
  assert.deepEqual(list.find((b) => b.status === 'failed'), { ...list.find((b) => b.status === 'failed')!, error: 'quota exceeded', reason: 'prebuild-create' });
  const claimedName = (await pool.query<{ name: string }>('SELECT name FROM workspaces WHERE id = $1', [workspaceId])).rows[0]!.name;
  assert.equal(list.find((b) => b.reason === 'claim')?.workspaceName, claimedName, 'org admins read every workspace of the organization');

  const notices = (await call('GET', `/api/v1/presets/${preset.presetId}/replacements`, { token: tokens.orgAdmin })).body as unknown as { replacements: Record<string, string[]>; buildNumber: number; claimant: string | null }[];
  assert.deepEqual(notices.map((n) => [n.buildNumber, n.replacements, n.claimant !== null]), [[2, { 'aws_instance.dev': ['ami'] }, true]]);

  // Another member reads the pool, but not the claimant's workspace: its builds (the prebuild's first one included)
  // and its notice come without name, error and claimant.
  const asMember = (await call('GET', `/api/v1/presets/${preset.presetId}/builds`, { token: tokens.member })).body as unknown as { reason: string; workspaceName: string | null; error: string | null }[];
  assert.deepEqual(asMember.map((b) => [b.reason, b.workspaceName]).sort(), [['claim', null], ['prebuild-create', null], ['prebuild-create', 'prebuild-x']].sort());
  assert.equal(asMember.find((b) => b.workspaceName === 'prebuild-x')?.error, 'quota exceeded', 'prebuild errors are shown to members');
  // Readiness per build: the prebuild's create had its agent ready (usable); the claim build has no agents yet, the failed one none.
  const readiness = (asMember as unknown as { reason: string; status: string; usable: boolean; agents: { name: string; ready: boolean }[] }[]).map((b) => [b.reason, b.status, b.usable, b.agents.map((a) => [a.name, a.ready])]);
  assert.deepEqual(readiness.sort(), [['claim', 'succeeded', false, []], ['prebuild-create', 'failed', false, []], ['prebuild-create', 'succeeded', true, [['main', true]]]].sort());
  const memberNotices = (await call('GET', `/api/v1/presets/${preset.presetId}/replacements`, { token: tokens.member })).body as unknown as { workspaceName: string | null; claimant: string | null; replacements: unknown }[];
  assert.deepEqual(memberNotices, [{ ...memberNotices[0]!, workspaceName: null, claimant: null, replacements: { 'aws_instance.dev': ['ami'] } }]);
  // So does a template admin (of the organization or site-wide): without workspace.read, the same view as a member.
  for (const organizationId of [preset.organizationId, null]) {
    const templateAdmin = (await userWithRole(pool, 'template-admin', organizationId)).token;
    const asTemplateAdmin = (await call('GET', `/api/v1/presets/${preset.presetId}/builds`, { token: templateAdmin })).body as unknown as { reason: string; workspaceName: string | null }[];
    assert.deepEqual(asTemplateAdmin.map((b) => [b.reason, b.workspaceName]).sort(), asMember.map((b) => [b.reason, b.workspaceName]).sort(), String(organizationId));
    assert.deepEqual((await call('GET', `/api/v1/presets/${preset.presetId}/replacements`, { token: templateAdmin })).body, memberNotices);
  }
  const claimant = (await call('GET', `/api/v1/presets/${preset.presetId}/replacements`, { token: claimantToken })).body as unknown as { workspaceName: string | null }[];
  assert.equal(claimant[0]?.workspaceName, claimedName, 'the claimant sees their own workspace');

  // Samples: the first writer of a bucket wins; samples older than the keep window are pruned.
  // (A day back: the running api's metrics refresher writes the current bucket itself.)
  const now = new Date();
  const dayAgo = new Date(now.getTime() - 86_400_000);
  await recordPoolSamples(pool, [{ presetId: preset.presetId, desired: 2, eligible: 1 }], new Date(now.getTime() - 9 * 86_400_000), 300_000, 8 * 86_400_000);
  await recordPoolSamples(pool, [{ presetId: preset.presetId, desired: 2, eligible: 1 }], dayAgo, 300_000, 8 * 86_400_000);
  await recordPoolSamples(pool, [{ presetId: preset.presetId, desired: 5, eligible: 5 }], dayAgo, 300_000, 8 * 86_400_000);
  // Hits and misses per hour come from the demand history: two hits and a miss an hour ago, one miss 8 days ago (outside).
  const hourAgo = new Date(now.getTime() - 3_600_000);
  await pool.query(
    `INSERT INTO demand_events (preset_id, build_id, hit, requested_at) SELECT $1, gen_random_uuid(), h, t FROM unnest($2::bool[], $3::timestamptz[]) AS e(h, t)`,
    [preset.presetId, [true, true, false, false], [hourAgo, hourAgo, hourAgo, new Date(now.getTime() - 8 * 86_400_000)]],
  );
  const history = (await call('GET', `/api/v1/presets/${preset.presetId}/history?days=7`, { token: tokens.member })).body as unknown as {
    samples: { at: string; desired: number; eligible: number }[];
    hits: { at: string; count: number }[];
    misses: { at: string; count: number }[];
  };
  const bucket = new Date(Math.floor(dayAgo.getTime() / 300_000) * 300_000).toISOString();
  assert.deepEqual(history.samples.find((s) => s.at === bucket), { at: bucket, desired: 2, eligible: 1 });
  assert.ok(history.samples.every((s) => new Date(s.at).getTime() > now.getTime() - 8 * 86_400_000), 'old samples pruned');
  const hourOf = (t: Date) => new Date(Math.floor(t.getTime() / 3_600_000) * 3_600_000).toISOString();
  // The claim build above is a hit too (recorded by the builds trigger of migration 011).
  const claimedAt = (await pool.query<{ at: Date }>('SELECT requested_at AS at FROM demand_events WHERE preset_id = $1 AND hit AND requested_at > $2', [preset.presetId, hourAgo])).rows.map((r) => r.at);
  assert.equal(claimedAt.length, 1);
  const expectedHits = new Map<string, number>([[hourOf(hourAgo), 2]]);
  expectedHits.set(hourOf(claimedAt[0]!), (expectedHits.get(hourOf(claimedAt[0]!)) ?? 0) + 1);
  assert.deepEqual(history.hits, [...expectedHits].map(([at, count]) => ({ at, count })));
  assert.deepEqual(history.misses, [{ at: hourOf(hourAgo), count: 1 }]);

  const refused = await call('GET', `/api/v1/presets/${preset.presetId}/builds`, { token: tokens.outsider });
  assert.equal(refused.status, 404, 'another organization\'s preset does not exist for its members');
  assert.equal((await call('GET', `/api/v1/presets/${otherPreset}/history`, { token: tokens.orgAdmin })).status, 404);
  const badLimit = await call('GET', `/api/v1/presets/${preset.presetId}/builds?limit=500`, { token: tokens.owner });
  assert.equal(badLimit.status, 400);
  assert.equal(badLimit.body.details?.[0]?.path, 'querystring.limit');
});

test('the overview\'s hit rate over 24 h: every preset of the organization from the demand history; null without requests', async () => {
  const pool = env.db.pool;
  const [busy, missing, quiet] = await seedPresets(pool, [{ name: 'busy' }, { name: 'missing' }, { name: 'quiet' }]);
  const org = (await pool.query<{ name: string }>('SELECT name FROM organizations WHERE id = $1', [busy!.organizationId])).rows[0]!.name;
  const { token } = await userWithRole(pool, 'member', busy!.organizationId);
  // busy: 3 hits and 1 miss in the last 24 h, plus a miss 30 h ago (in the 7-day rate only); missing: 2 misses;
  // quiet: one hit 2 days ago, nothing in the last 24 h.
  const events: [string, boolean, number][] = [
    [busy!.presetId, true, 10], [busy!.presetId, true, 60], [busy!.presetId, true, 600], [busy!.presetId, false, 20], [busy!.presetId, false, 30 * 60],
    [missing!.presetId, false, 5], [missing!.presetId, false, 90],
    [quiet!.presetId, true, 48 * 60],
  ];
  await pool.query(
    `INSERT INTO demand_events (preset_id, build_id, hit, requested_at)
     SELECT p, gen_random_uuid(), h, now() - make_interval(mins => m) FROM unnest($1::uuid[], $2::bool[], $3::int[]) AS e(p, h, m)`,
    [events.map((e) => e[0]), events.map((e) => e[1]), events.map((e) => e[2])],
  );
  const res = await call('GET', `/api/v1/organizations/${org}/presets`, { token });
  assert.equal(res.status, 200);
  const rates = Object.fromEntries((res.body as unknown as { preset: string; hitRate24h: number | null; hitRate7d: number | null; requests24h: number }[]).map((s) => [s.preset, [s.hitRate24h, s.requests24h, s.hitRate7d]]));
  assert.deepEqual(rates, { busy: [0.75, 4, 0.6], missing: [0, 2, 0], quiet: [null, 0, 1] });
});
