import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createQueueSet, createRedis, type QueueSet } from '@warmpool/bus';
import { REDIS_URL } from '../support/env.js';
import { SYSTEM_USER_ID } from '@warmpool/db';
import { seedOrganization, seedTemplate, seedVersion } from '../support/seed.js';
import { client, scrapeMetrics, seedEligiblePrebuild, startTestApi, userWithRole } from '../support/api.js';

/** Bad input of every kind is a 4xx that stores nothing; template lifecycle changes trigger reconciles. */

let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;
let redis: ReturnType<typeof createRedis>;
let queues: QueueSet;
let orgA: string;
let owner: { userId: string; token: string };
let member: { userId: string; token: string };
const manifest = JSON.parse(readFileSync('examples/web-app.json', 'utf8')) as Record<string, unknown>;

before(async () => {
  env = await startTestApi();
  call = client(env.api.url);
  redis = createRedis(REDIS_URL, { role: 'producer', name: 'test' });
  queues = createQueueSet(redis, env.prefix);
  orgA = await seedOrganization(env.db.pool, 'org-a');
  owner = await userWithRole(env.db.pool, 'owner', null);
  member = await userWithRole(env.db.pool, 'member', orgA);
});
after(async () => {
  await queues.close();
  await redis.quit();
  await env.stop();
});

const TABLES = ['organizations', 'users', 'role_assignments', 'api_tokens', 'templates', 'template_versions', 'presets', 'workspaces', 'builds', 'outbox', 'preset_counters'];
async function rowCounts(): Promise<Record<string, number>> {
  const { rows } = await env.db.pool.query<Record<string, number>>(`SELECT ${TABLES.map((t) => `(SELECT count(*)::int FROM ${t}) AS ${t}`).join(', ')}`);
  return rows[0]!;
}

async function templateWithPreset() {
  const templateId = await seedTemplate(env.db.pool, orgA);
  const { versionId, presetIds } = await seedVersion(env.db.pool, templateId, [{ name: 'p', instances: 1 }]);
  return { templateId, versionId, presetId: presetIds[0]! };
}

type Options = Parameters<ReturnType<typeof client>>[2];
const json = (body: unknown): Options => ({ body });
const raw = (text: string | Buffer, contentType = 'application/json'): Options => ({ raw: text, contentType });

/** Malformed bodies any JSON route must refuse before touching the database. */
const TRANSPORT_CASES: [string, Options, number][] = [
  ['invalid JSON', raw('{"name": '), 400],
  ['invalid UTF-8', raw(Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])), 400],
  ['2 MiB payload', raw(JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) })), 413],
  ['form content type', raw('name=x', 'application/x-www-form-urlencoded'), 415],
  ['JSON array', json([1, 2]), 400],
  ['JSON null', raw('null'), 400],
  ['empty body', raw(''), 400],
];

test('bad bodies on every writing route: 4xx with the error shape and nothing stored', async () => {
  const t = await templateWithPreset();
  const routes: [string, string, [string, Options][]][] = [
    ['POST', '/api/v1/organizations/org-a/templates', [
      ['missing name', json({})],
      ['name of the wrong type', json({ name: 42 })],
      ['unknown field', json({ name: 'ok-name', colour: 'blue' })],
      ['name with spaces', json({ name: 'not ok' })],
    ]],
    ['POST', `/api/v1/templates/${t.templateId}/versions`, [
      ['missing presets and name', json({})],
      ['instances of the wrong type', json({ ...manifest, name: 'x1', presets: [{ name: 'p', prebuilds: { instances: 'three' } }] })],
      ['unknown field', json({ ...manifest, name: 'x2', colour: 'blue' })],
      ['bad YAML', raw('name: [unclosed', 'application/yaml')],
      ['YAML that is a list', raw('- a\n- b\n', 'application/yaml')],
    ]],
    ['POST', '/api/v1/organizations/org-a/workspaces', [
      ['missing template_id', json({ name: 'w' })],
      ['template_id not a uuid', json({ template_id: 'abc', name: 'w' })],
      ['parameters of the wrong type', json({ template_id: t.templateId, name: 'w', parameters: { size: 3 } })],
      ['unknown field', json({ template_id: t.templateId, name: 'w', owner_id: SYSTEM_USER_ID })],
      ['preset of another template', json({ template_id: t.templateId, name: 'w', preset_id: '00000000-0000-4000-8000-000000000000' })],
    ]],
    ['PATCH', `/api/v1/workspaces/00000000-0000-4000-8000-000000000000`, [
      ['empty object', json({})],
      ['negative autostop', json({ autostop_seconds: -1 })],
    ]],
    ['POST', '/api/v1/users', [
      ['missing role', json({ username: 'someone' })],
      ['unknown role', json({ username: 'someone', role: 'admin' })],
      ['reserved system user', json({ username: 'prebuilds', role: 'owner' })],
      ['member without organization', json({ username: 'someone', role: 'member' })],
      ['owner in an organization', json({ username: 'someone', role: 'owner', organization: 'org-a' })],
    ]],
    ['POST', '/api/v1/tokens', [
      ['missing name', json({})],
      ['user_id not a uuid', json({ name: 'x', user_id: 'me' })],
      ['expiry too short', json({ name: 'x', expires_in_seconds: 1 })],
    ]],
  ];
  const before = await rowCounts();
  const failures: string[] = [];
  for (const [method, path, specific] of routes) {
    const cases: [string, Options, number?][] = [...specific, ...TRANSPORT_CASES];
    for (const [what, options, status] of cases) {
      const res = await call(method, path, { token: owner.token, ...options });
      const ok = status === undefined ? res.status >= 400 && res.status < 500 : res.status === status;
      if (!ok || typeof res.body?.error !== 'string' || typeof res.body.message !== 'string' || !Array.isArray(res.body.details)) {
        failures.push(`${method} ${path} ${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(await rowCounts(), before, 'nothing stored');
});

test('validation errors name every offending field', async () => {
  const t = await templateWithPreset();
  const ws = await call('POST', '/api/v1/organizations/org-a/workspaces', { token: owner.token, body: { template_id: 7, name: '', extra: 1, parameters: [] } });
  assert.equal(ws.status, 400);
  const paths = ws.body.details!.map((d) => d.path);
  for (const p of ['body.template_id', 'body.name', 'body.extra', 'body.parameters']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  const bad = {
    name: 'v-bad',
    parameters: [{ name: 'region', required: 'yes' }],
    presets: [{ name: 'a', prebuilds: { instances: -1 } }, { name: 'a', prebuilds: { instances: 1, scheduling: { timezone: 'Mars/Base', schedule: [{ cron: 'nope', instances: 1 }] } } }],
  };
  const res = await call('POST', `/api/v1/templates/${t.templateId}/versions`, { token: owner.token, body: bad });
  assert.equal(res.status, 400);
  assert.equal(res.body.error, 'invalid_manifest');
  const manifestPaths = res.body.details!.map((d) => d.path).join(' ');
  for (const p of ['parameters[0].required', 'presets[0].prebuilds.instances', 'presets[1].prebuilds.scheduling.timezone', 'presets[1].prebuilds.scheduling.schedule[0].cron']) {
    assert.ok(manifestPaths.includes(p), `${p} in ${manifestPaths}`);
  }
  const params = await call('GET', '/api/v1/presets/not-a-uuid/status', { token: owner.token });
  assert.equal(params.status, 400);
  const query = await call('GET', `/api/v1/presets/${t.presetId}/schedule-preview?from=yesterday`, { token: owner.token });
  assert.equal(query.status, 400);
  const reversed = await call('GET', `/api/v1/presets/${t.presetId}/schedule-preview?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, { token: owner.token });
  assert.equal(reversed.status, 400);
  const limit = await call('GET', '/api/v1/users/me/notifications?limit=0', { token: owner.token });
  assert.equal(limit.status, 400);
});

async function waitingReconciles(): Promise<Map<string, string>> {
  const jobs = await queues.reconcile.getJobs(['waiting', 'prioritized', 'delayed']);
  return new Map(jobs.map((j) => [(j.data as { presetId: string }).presetId, (j.data as { trigger: string }).trigger]));
}

test('activation, deprecation and deletion reconcile the presets of the old and new versions', async () => {
  const created = await call('POST', '/api/v1/organizations/org-a/templates', { token: owner.token, body: { name: 'lifecycle' } });
  const templateId = created.body.id as string;
  const v1 = await call('POST', `/api/v1/templates/${templateId}/versions?activate=true`, { token: owner.token, body: manifest });
  assert.equal(v1.status, 201);
  const v1Presets = (v1.body.presets as { id: string }[]).map((p) => p.id);
  assert.equal(v1Presets.length, 3);
  for (const id of v1Presets) assert.ok((await waitingReconciles()).has(id), 'new active presets are reconciled');

  const v2 = await call('POST', `/api/v1/templates/${templateId}/versions`, { token: owner.token, body: { ...manifest, name: 'v2' } });
  assert.equal(v2.body.active, false);
  await queues.reconcile.obliterate({ force: true });
  const activated = await call('POST', `/api/v1/templates/${templateId}/versions/${v2.body.version_id as string}/activate`, { token: owner.token });
  assert.equal(activated.status, 200);
  assert.equal(activated.body.active_version_id, v2.body.version_id);
  const afterActivate = await waitingReconciles();
  for (const id of [...v1Presets, ...(v2.body.presets as { id: string }[]).map((p) => p.id)]) assert.ok(afterActivate.has(id), `preset ${id} reconciled`);

  const unknownVersion = await call('POST', `/api/v1/templates/${templateId}/versions/00000000-0000-4000-8000-000000000000/activate`, { token: owner.token });
  assert.equal(unknownVersion.status, 404);

  await queues.reconcile.obliterate({ force: true });
  assert.equal((await call('POST', `/api/v1/templates/${templateId}/deprecate`, { token: owner.token })).status, 200);
  assert.ok((await waitingReconciles()).size >= 3);
  const refused = await call('POST', '/api/v1/organizations/org-a/workspaces', { token: member.token, body: { template_id: templateId, name: 'late' } });
  assert.equal(refused.status, 409, 'no new workspaces from a deprecated template');

  await queues.reconcile.obliterate({ force: true });
  assert.equal((await call('DELETE', `/api/v1/templates/${templateId}`, { token: owner.token })).status, 204);
  assert.ok((await waitingReconciles()).size >= 3);
  assert.equal((await call('POST', `/api/v1/templates/${templateId}/deprecate`, { token: owner.token })).status, 404, 'deleted templates are gone');
  const names = await call('GET', '/api/v1/organizations/org-a/templates', { token: owner.token });
  assert.ok(!(names.body as unknown as { id: string }[]).some((x) => x.id === templateId));
  const again = await call('POST', '/api/v1/organizations/org-a/templates', { token: owner.token, body: { name: 'lifecycle' } });
  assert.equal(again.status, 201, 'the name is free again after a soft delete');
});

test('a claim under a name the user already has is a 409 and leaves the prebuild in the pool', async () => {
  const t = await templateWithPreset();
  const mine = await call('POST', '/api/v1/organizations/org-a/workspaces', { token: member.token, body: { template_id: t.templateId, name: 'taken' } });
  assert.equal(mine.status, 201);
  assert.equal(mine.body.claimed, false, 'no prebuild yet');
  const prebuild = await seedEligiblePrebuild(env.db.pool, { presetId: t.presetId, organizationId: orgA, templateId: t.templateId, versionId: t.versionId });
  const before = await rowCounts();
  const res = await call('POST', '/api/v1/organizations/org-a/workspaces', { token: member.token, body: { template_id: t.templateId, name: 'taken' } });
  assert.equal(res.status, 409);
  assert.deepEqual(await rowCounts(), before, 'no build, no outbox row, no counter');
  const owner_ = await env.db.pool.query<{ owner_id: string }>('SELECT owner_id FROM workspaces WHERE id = $1', [prebuild]);
  assert.equal(owner_.rows[0]!.owner_id, SYSTEM_USER_ID);
  const ok = await call('POST', '/api/v1/organizations/org-a/workspaces', { token: member.token, body: { template_id: t.templateId, name: 'other' } });
  assert.deepEqual([ok.status, ok.body.claimed, (ok.body.workspace as { id: string }).id], [201, true, prebuild]);
  const outbox = await env.db.pool.query<{ priority: number; payload: { reason: string } }>(
    `SELECT priority, payload FROM outbox WHERE payload->>'workspaceId' = $1 ORDER BY id DESC LIMIT 1`,
    [prebuild],
  );
  assert.equal(outbox.rows[0]!.payload.reason, 'claim');
  const metrics = await scrapeMetrics(env.api.url, owner.token);
  const line = metrics.split('\n').find((l) => l.startsWith('warmpool_preset_workspace_request_duration_seconds_count{'));
  for (const label of ['organization_name="org-a"', 'template_name="tpl-', 'preset_name="p"']) assert.ok(line?.includes(label), `${label} in ${line}`);
  assert.ok(line?.endsWith(' 1'), 'one claim observed');
});

test('inbox: pages newest first with a cursor; marking read is idempotent and per recipient', async () => {
  const other = await userWithRole(env.db.pool, 'member', orgA);
  for (let i = 0; i < 5; i++) {
    await env.db.pool.query(
      `INSERT INTO notifications (user_id, kind, title, body, dedup_key, created_at) VALUES ($1, 'preset-hard-limited', $2, 'b', $3, now() - make_interval(secs => $4))`,
      [member.userId, `n${i}`, `k${i}`, i],
    );
  }
  const first = await call('GET', '/api/v1/users/me/notifications?limit=3', { token: member.token });
  assert.equal(first.status, 200);
  const items = first.body.items as { id: string; title: string; readAt: string | null }[];
  assert.deepEqual(items.map((x) => x.title), ['n0', 'n1', 'n2']);
  const second = await call('GET', `/api/v1/users/me/notifications?limit=3&before=${encodeURIComponent(first.body.nextCursor as string)}`, { token: member.token });
  assert.deepEqual((second.body.items as { title: string }[]).map((x) => x.title), ['n3', 'n4']);
  assert.equal(second.body.nextCursor, null);
  assert.equal(((await call('GET', '/api/v1/users/me/notifications', { token: other.token })).body.items as unknown[]).length, 0, 'only your own');
  const id = items[0]!.id;
  assert.equal((await call('POST', `/api/v1/users/me/notifications/${id}/read`, { token: other.token })).status, 404);
  assert.equal((await call('POST', `/api/v1/users/me/notifications/${id}/read`, { token: member.token })).status, 200);
  assert.equal((await call('POST', `/api/v1/users/me/notifications/${id}/read`, { token: member.token })).status, 200);
  const reread = await call('GET', '/api/v1/users/me/notifications?limit=1', { token: member.token });
  assert.ok((reread.body.items as { readAt: string | null }[])[0]!.readAt);
  assert.equal((await call('GET', '/api/v1/users/me/notifications?before=garbage', { token: member.token })).status, 400);
});

test('hostile but well-formed values are refused with a 4xx, never a 5xx, and store nothing', async () => {
  const created = await call('POST', '/api/v1/organizations/org-a/templates', { token: owner.token, body: { name: 'hostile' } });
  const templateId = created.body.id as string;
  const nul = 'a\u0000b';
  const v = await call('POST', `/api/v1/templates/${templateId}/versions?activate=true`, { token: owner.token, body: { ...manifest, name: 'h1' } });
  assert.equal(v.status, 201);
  const ws = await call('POST', '/api/v1/organizations/org-a/workspaces', { token: member.token, body: { template_id: templateId, name: 'h-ws', parameters: { region: 'eu-west' } } });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const wsId = (ws.body.workspace as { id: string }).id;
  const cases: [string, string, Options][] = [
    ['NUL in a manifest description', `/api/v1/templates/${templateId}/versions`, json({ ...manifest, name: 'h2', presets: [{ name: 'p', description: nul }] })],
    ['NUL in a version name', `/api/v1/templates/${templateId}/versions`, json({ ...manifest, name: nul })],
    ['NUL in a parameter value', '/api/v1/organizations/org-a/workspaces', json({ template_id: templateId, name: 'h-nul', parameters: { region: 'eu-west', image: nul } })],
    ['NUL in a token name', '/api/v1/tokens', json({ name: nul })],
    ['NUL in an organization name', `/api/v1/organizations/${encodeURIComponent(nul)}/templates`, json({ name: 'x' })],
    ['lone surrogate in a description', `/api/v1/templates/${templateId}/versions`, raw(`{"name":"h3","presets":[{"name":"p","description":"\\ud800"}]}`)],
    ['huge integer', `/api/v1/templates/${templateId}/versions`, json({ ...manifest, name: 'h4', presets: [{ name: 'p', prebuilds: { instances: 1e300 } }] })],
    ['deep nesting', `/api/v1/templates/${templateId}/versions`, raw(`${'['.repeat(5000)}${']'.repeat(5000)}`)],
    ['NUL escape in YAML', `/api/v1/templates/${templateId}/versions`, raw('name: "h5\\0"\npresets:\n  - name: p\n', 'application/yaml')],
    ['YAML alias bomb', `/api/v1/templates/${templateId}/versions`, raw(`a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n`, 'application/yaml')],
  ];
  const failures: string[] = [];
  for (const [what, path, options] of cases) {
    const res = await call('POST', path, { token: owner.token, ...options });
    if (res.status < 400 || res.status >= 500) failures.push(`${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
  }
  const stored = await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM template_versions WHERE template_id = $1', [templateId]);
  assert.equal(stored.rows[0]!.n, 1, 'only the good version is stored');
  const nulField = await call('POST', '/api/v1/tokens', { token: owner.token, body: { name: nul } });
  assert.deepEqual([nulField.status, nulField.body.error, nulField.body.details], [400, 'invalid_text', [{ path: 'body.name', message: 'unstorable character' }]]);
  const patch = await call('PATCH', `/api/v1/workspaces/${wsId}`, { token: member.token, body: { autostop_seconds: 1e12 } });
  if (patch.status !== 400) failures.push(`autostop overflow: ${patch.status}`);
  assert.deepEqual(failures, []);
});

test('a workspace parameter value outside its declaration is a 400 naming the parameter, and nothing is stored or sent', async () => {
  const created = await call('POST', '/api/v1/organizations/org-a/templates', { token: owner.token, body: { name: 'declared-options' } });
  const templateId = created.body.id as string;
  // web-app.json declares region (required, options eu-west/us-east) and size (options small/large).
  const v = await call('POST', `/api/v1/templates/${templateId}/versions?activate=true`, { token: owner.token, body: { ...manifest, name: 'opts' } });
  assert.equal(v.status, 201, JSON.stringify(v.body));
  const cases: [string, Record<string, string>, string][] = [
    ['a value outside the options', { region: 'mars' }, 'region'],
    ['an allowed value followed by a line break', { region: 'eu-west\nINJECTED=1' }, 'region'],
    ['a carriage return in an optional parameter', { region: 'us-east', size: 'small\r' }, 'size'],
    ['a line break in an undeclared parameter', { region: 'us-east', extra: 'a\nb' }, 'extra'],
    ['a Unicode line separator', { region: 'us-east', extra: 'a\u2028b' }, 'extra'],
  ];
  const before = await rowCounts();
  const jobsBefore = await queues.buildRequests.getJobCounts();
  for (const [what, parameters, name] of cases) {
    const res = await call('POST', '/api/v1/organizations/org-a/workspaces', { token: member.token, body: { template_id: templateId, name: `opt-${name}`, parameters } });
    assert.equal(res.status, 400, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, 'validation_failed', what);
    const details = res.body.details as { path: string; message: string }[];
    assert.equal(details[0]?.path, `body.parameters.${name}`, what);
    assert.match(details[0]!.message, new RegExp(`parameter "${name}"`), what);
    assert.doesNotMatch(JSON.stringify(res.body), /INJECTED/, `${what}: the refused value is not echoed`);
  }
  assert.deepEqual(await rowCounts(), before, 'nothing stored, no build-requested in the outbox');
  assert.deepEqual(await queues.buildRequests.getJobCounts(), jobsBefore, 'no build requested');
  const ok = await call('POST', '/api/v1/organizations/org-a/workspaces', { token: member.token, body: { template_id: templateId, name: 'opt-ok', parameters: { region: 'us-east', size: 'large' } } });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
});
