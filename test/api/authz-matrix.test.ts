import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { hashToken, SYSTEM_USER_ID } from '@warmpool/db';
import { seedOrganization, seedTemplate, seedVersion } from '../support/seed.js';
import { client, seedEligiblePrebuild, startTestApi, userWithRole, type Role } from '../support/api.js';

/**
 * Every route against every kind of principal, allowed and denied, from one table. Principals scoped to
 * org B must get 404 for org A's objects (they may not even learn that the object exists).
 */

const ACTORS = ['owner', 'siteTemplateAdmin', 'templateAdminA', 'orgAdminA', 'memberA', 'otherMemberA', 'templateAdminB', 'orgAdminB', 'memberB'] as const;
type Actor = (typeof ACTORS)[number];

let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;
let orgA: string;
const who = {} as Record<Actor, { userId: string; token: string }>;
/** Users that tokens are asked for, beyond the actors: a second org admin of A, and a member of A who is template admin of B. */
const target = {} as { peerOrgAdminA: string; memberATemplateAdminB: string };
const manifest = JSON.parse(readFileSync('examples/web-app.json', 'utf8')) as Record<string, unknown>;

before(async () => {
  // No principal cache: tokens are expired and roles changed directly in SQL, and every answer must reflect it at once.
  env = await startTestApi({ WARMPOOL_API_CACHE_MS: '0' });
  call = client(env.api.url);
  orgA = await seedOrganization(env.db.pool, 'org-a');
  const orgB = await seedOrganization(env.db.pool, 'org-b');
  const roles: Record<Actor, [Role, string | null]> = {
    owner: ['owner', null],
    siteTemplateAdmin: ['template-admin', null],
    templateAdminA: ['template-admin', orgA],
    orgAdminA: ['org-admin', orgA],
    memberA: ['member', orgA],
    otherMemberA: ['member', orgA],
    templateAdminB: ['template-admin', orgB],
    orgAdminB: ['org-admin', orgB],
    memberB: ['member', orgB],
  };
  for (const actor of ACTORS) who[actor] = await userWithRole(env.db.pool, ...roles[actor]);
  target.peerOrgAdminA = (await userWithRole(env.db.pool, 'org-admin', orgA)).userId;
  target.memberATemplateAdminB = (await userWithRole(env.db.pool, 'member', orgA)).userId;
  await env.db.pool.query(`INSERT INTO role_assignments (user_id, role, organization_id) VALUES ($1, 'template-admin', $2)`, [target.memberATemplateAdminB, orgB]);
});
after(async () => env.stop());

const unique = () => randomBytes(4).toString('hex');

/** A template of org A with an active version holding one preset and one eligible prebuild. */
async function fixture() {
  const templateId = await seedTemplate(env.db.pool, orgA);
  const { versionId, presetIds } = await seedVersion(env.db.pool, templateId, [{ name: 'p', instances: 1 }]);
  const presetId = presetIds[0]!;
  const { versionId: nextVersionId } = await seedVersion(env.db.pool, templateId, [{ name: 'p' }], { activate: false });
  const ws = await call('POST', '/api/v1/organizations/org-a/workspaces', { token: who.memberA.token, body: { template_id: templateId, name: `own-${unique()}` } });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  // Seeded after the user's workspace, which would otherwise have claimed it.
  const prebuildId = await seedEligiblePrebuild(env.db.pool, { presetId, organizationId: orgA, templateId, versionId });
  const notification = await env.db.pool.query<{ id: string }>(
    `INSERT INTO notifications (user_id, kind, title, body, dedup_key) VALUES ($1, 'test', 't', 'b', $2) RETURNING id`,
    [who.memberA.userId, unique()],
  );
  const user = await env.db.pool.query<{ id: string }>('INSERT INTO users (username) VALUES ($1) RETURNING id', [`fresh-${unique()}`]);
  return { freshUserId: user.rows[0]!.id, templateId, versionId, nextVersionId, presetId, prebuildId, workspaceId: (ws.body.workspace as { id: string }).id, notificationId: notification.rows[0]!.id };
}
type Fixture = Awaited<ReturnType<typeof fixture>>;

type Route = {
  name: string;
  request: (f: Fixture) => { method: string; path: string; body?: unknown };
  /** The expected status per actor. */
  expect: Record<Actor, number>;
  /** Reads run against one shared fixture; writes get fresh objects for every actor. */
  read?: true;
};

/** Same status for org A's actors by role; every org B actor gets `b` (404 unless the route has no org). */
const row = (owner: number, siteTa: number, taA: number, oaA: number, memA: number, otherA: number, b = 404): Record<Actor, number> => ({
  owner,
  siteTemplateAdmin: siteTa,
  templateAdminA: taA,
  orgAdminA: oaA,
  memberA: memA,
  otherMemberA: otherA,
  templateAdminB: b,
  orgAdminB: b,
  memberB: b,
});

const ROUTES: Route[] = [
  { name: 'list templates', read: true, request: () => ({ method: 'GET', path: '/api/v1/organizations/org-a/templates' }), expect: row(200, 200, 200, 200, 200, 200) },
  {
    name: 'create template',
    request: () => ({ method: 'POST', path: '/api/v1/organizations/org-a/templates', body: { name: `t-${unique()}` } }),
    expect: row(201, 201, 201, 403, 403, 403),
  },
  {
    name: 'import version',
    request: (f) => ({ method: 'POST', path: `/api/v1/templates/${f.templateId}/versions`, body: { ...manifest, name: `v-${unique()}` } }),
    expect: row(201, 201, 201, 403, 403, 403),
  },
  {
    name: 'activate version',
    request: (f) => ({ method: 'POST', path: `/api/v1/templates/${f.templateId}/versions/${f.nextVersionId}/activate` }),
    expect: row(200, 200, 200, 403, 403, 403),
  },
  {
    name: 'manifest dry run',
    read: true,
    request: (f) => ({ method: 'POST', path: `/api/v1/templates/${f.templateId}/versions/dry-run`, body: { ...manifest, name: `dry-${unique()}` } }),
    expect: row(200, 200, 200, 403, 403, 403),
  },
  { name: 'deprecate template', request: (f) => ({ method: 'POST', path: `/api/v1/templates/${f.templateId}/deprecate` }), expect: row(200, 200, 200, 403, 403, 403) },
  { name: 'delete template', request: (f) => ({ method: 'DELETE', path: `/api/v1/templates/${f.templateId}` }), expect: row(204, 204, 204, 403, 403, 403) },
  {
    name: 'create workspace',
    request: (f) => ({ method: 'POST', path: '/api/v1/organizations/org-a/workspaces', body: { template_id: f.templateId, name: `w-${unique()}` } }),
    expect: row(201, 201, 201, 201, 201, 201),
  },
  // Someone else's workspace is invisible (404) to principals without workspace.read, like another org's.
  { name: 'get user workspace', read: true, request: (f) => ({ method: 'GET', path: `/api/v1/workspaces/${f.workspaceId}` }), expect: row(200, 404, 404, 200, 200, 404) },
  // A prebuild is part of the pool, which members read.
  { name: 'get prebuild', read: true, request: (f) => ({ method: 'GET', path: `/api/v1/workspaces/${f.prebuildId}` }), expect: row(200, 200, 200, 200, 200, 200) },
  {
    name: 'patch user workspace',
    request: (f) => ({ method: 'PATCH', path: `/api/v1/workspaces/${f.workspaceId}`, body: { autostop_seconds: 3600 } }),
    expect: row(200, 403, 403, 200, 200, 403),
  },
  // BEHAVIOUR.md §7: workspace.delete (owners, org admins, the workspace's owner), else prebuilt_workspace.delete for prebuilds.
  { name: 'delete user workspace', request: (f) => ({ method: 'DELETE', path: `/api/v1/workspaces/${f.workspaceId}` }), expect: row(202, 403, 403, 202, 202, 403) },
  { name: 'delete prebuild', request: (f) => ({ method: 'DELETE', path: `/api/v1/workspaces/${f.prebuildId}` }), expect: row(202, 202, 202, 202, 403, 403) },
  // Members read their organization's pools (status, preview, the console's read routes) but do not replay or act.
  { name: 'preset status', read: true, request: (f) => ({ method: 'GET', path: `/api/v1/presets/${f.presetId}/status` }), expect: row(200, 200, 200, 200, 200, 200) },
  { name: 'schedule preview', read: true, request: (f) => ({ method: 'GET', path: `/api/v1/presets/${f.presetId}/schedule-preview` }), expect: row(200, 200, 200, 200, 200, 200) },
  { name: 'replay preset', read: true, request: (f) => ({ method: 'POST', path: `/api/v1/presets/${f.presetId}/replay`, body: { days: 1 } }), expect: row(200, 200, 200, 200, 403, 403) },
  { name: 'organization presets', read: true, request: () => ({ method: 'GET', path: '/api/v1/organizations/org-a/presets' }), expect: row(200, 200, 200, 200, 200, 200) },
  { name: 'preset builds', read: true, request: (f) => ({ method: 'GET', path: `/api/v1/presets/${f.presetId}/builds` }), expect: row(200, 200, 200, 200, 200, 200) },
  { name: 'replacement notices', read: true, request: (f) => ({ method: 'GET', path: `/api/v1/presets/${f.presetId}/replacements` }), expect: row(200, 200, 200, 200, 200, 200) },
  { name: 'pool history', read: true, request: (f) => ({ method: 'GET', path: `/api/v1/presets/${f.presetId}/history` }), expect: row(200, 200, 200, 200, 200, 200) },
  { name: 'my scope', read: true, request: () => ({ method: 'GET', path: '/api/v1/users/me/scope' }), expect: row(200, 200, 200, 200, 200, 200, 200) },
  { name: 'resume preset', request: (f) => ({ method: 'POST', path: `/api/v1/presets/${f.presetId}/resume` }), expect: row(200, 200, 200, 403, 403, 403) },
  { name: 'invalidate preset', request: (f) => ({ method: 'POST', path: `/api/v1/presets/${f.presetId}/invalidate` }), expect: row(200, 200, 200, 403, 403, 403) },
  // Site-wide: nothing to hide, so org B principals get 403 like everyone but the owner.
  { name: 'pause reconciliation', request: () => ({ method: 'POST', path: '/api/v1/prebuilds/pause' }), expect: row(200, 403, 403, 403, 403, 403, 403) },
  { name: 'resume reconciliation', request: () => ({ method: 'POST', path: '/api/v1/prebuilds/resume' }), expect: row(200, 403, 403, 403, 403, 403, 403) },
  {
    name: 'create user (member of org A)',
    request: () => ({ method: 'POST', path: '/api/v1/users', body: { username: `u-${unique()}`, role: 'member', organization: 'org-a' } }),
    expect: row(201, 403, 403, 201, 403, 403),
  },
  {
    name: 'grant a role in org A',
    request: (f) => ({ method: 'POST', path: `/api/v1/users/${f.freshUserId}/roles`, body: { role: 'member', organization: 'org-a' } }),
    expect: row(201, 403, 403, 201, 403, 403),
  },
  {
    name: 'token for another member of org A',
    request: () => ({ method: 'POST', path: '/api/v1/tokens', body: { name: 'x', user_id: who.otherMemberA.userId } }),
    // otherMemberA asks for itself: always allowed.
    expect: row(201, 404, 404, 201, 404, 201),
  },
  // A token acts as its user: only for users whose every role the caller outranks (owners: anyone; org admins: plain
  // members of their organization). Issuing one changes no later answer, so these share one fixture.
  {
    name: 'token for a template admin of org A',
    read: true,
    request: () => ({ method: 'POST', path: '/api/v1/tokens', body: { name: 'x', user_id: who.templateAdminA.userId } }),
    expect: row(201, 404, 201, 403, 404, 404),
  },
  {
    name: 'token for a template admin of org A by its id',
    read: true,
    request: () => ({ method: 'POST', path: `/api/v1/users/${who.templateAdminA.userId}/tokens`, body: { name: 'x' } }),
    expect: row(201, 404, 201, 403, 404, 404),
  },
  {
    name: 'token for a peer org admin of org A',
    read: true,
    request: () => ({ method: 'POST', path: `/api/v1/users/${target.peerOrgAdminA}/tokens`, body: { name: 'x' } }),
    expect: row(201, 404, 404, 403, 404, 404),
  },
  {
    name: 'token for a member of org A who is template admin of org B',
    read: true,
    request: () => ({ method: 'POST', path: '/api/v1/tokens', body: { name: 'x', user_id: target.memberATemplateAdminB } }),
    expect: { ...row(201, 404, 404, 403, 404, 404), orgAdminB: 403 },
  },
  { name: 'token for a site-wide template admin', read: true, request: () => ({ method: 'POST', path: `/api/v1/users/${who.siteTemplateAdmin.userId}/tokens`, body: { name: 'x' } }), expect: row(201, 201, 404, 404, 404, 404) },
  { name: 'token for an owner', read: true, request: () => ({ method: 'POST', path: `/api/v1/users/${who.owner.userId}/tokens`, body: { name: 'x' } }), expect: row(201, 404, 404, 404, 404, 404) },
  { name: 'token for the system user', read: true, request: () => ({ method: 'POST', path: `/api/v1/users/${SYSTEM_USER_ID}/tokens`, body: { name: 'x' } }), expect: row(404, 404, 404, 404, 404, 404) },
  // Granting: owners any role anywhere; org admins org-admin and member in their organization only.
  {
    name: 'grant org-admin in org A',
    request: (f) => ({ method: 'POST', path: `/api/v1/users/${f.freshUserId}/roles`, body: { role: 'org-admin', organization: 'org-a' } }),
    expect: row(201, 403, 403, 201, 403, 403),
  },
  {
    name: 'grant template-admin in org A',
    request: (f) => ({ method: 'POST', path: `/api/v1/users/${f.freshUserId}/roles`, body: { role: 'template-admin', organization: 'org-a' } }),
    expect: row(201, 403, 403, 403, 403, 403),
  },
  {
    name: 'grant owner',
    request: (f) => ({ method: 'POST', path: `/api/v1/users/${f.freshUserId}/roles`, body: { role: 'owner' } }),
    expect: row(201, 403, 403, 403, 403, 403, 403),
  },
  { name: 'grant a role to a missing user', read: true, request: () => ({ method: 'POST', path: `/api/v1/users/${randomUUID()}/roles`, body: { role: 'member', organization: 'org-a' } }), expect: row(404, 403, 403, 404, 403, 403) },
  { name: 'token for yourself', request: () => ({ method: 'POST', path: '/api/v1/tokens', body: { name: 'mine' } }), expect: row(201, 201, 201, 201, 201, 201, 201) },
  { name: 'who am I', read: true, request: () => ({ method: 'GET', path: '/api/v1/users/me' }), expect: row(200, 200, 200, 200, 200, 200, 200) },
  { name: 'inbox', read: true, request: () => ({ method: 'GET', path: '/api/v1/users/me/notifications' }), expect: row(200, 200, 200, 200, 200, 200, 200) },
  // A notification is only ever its recipient's.
  { name: 'mark read', request: (f) => ({ method: 'POST', path: `/api/v1/users/me/notifications/${f.notificationId}/read` }), expect: row(404, 404, 404, 404, 200, 404) },
  // Preferences and the e-mail address are always the caller's own; the site-wide switch is the owners'.
  { name: 'notification preferences', read: true, request: () => ({ method: 'GET', path: '/api/v1/users/me/notification-preferences' }), expect: row(200, 200, 200, 200, 200, 200, 200) },
  {
    name: 'set a notification preference',
    request: () => ({ method: 'PUT', path: '/api/v1/users/me/notification-preferences/resource-replacements/email', body: { enabled: false } }),
    expect: row(200, 200, 200, 200, 200, 200, 200),
  },
  { name: 'set own e-mail', request: () => ({ method: 'PUT', path: '/api/v1/users/me/email', body: { email: 'me@example.com' } }), expect: row(200, 200, 200, 200, 200, 200, 200) },
  { name: 'notification kinds', read: true, request: () => ({ method: 'GET', path: '/api/v1/notification-kinds' }), expect: row(200, 200, 200, 200, 200, 200, 200) },
  {
    name: 'switch a kind site-wide',
    request: () => ({ method: 'PUT', path: '/api/v1/notification-kinds/resource-replacements', body: { disabled: false } }),
    expect: row(200, 403, 403, 403, 403, 403, 403),
  },
];

test('every route × every role answers as the permission table says', async () => {
  const failures: string[] = [];
  let checked = 0;
  const shared = await fixture();
  for (const route of ROUTES) {
    for (const actor of ACTORS) {
      // Fresh objects for writes: a mutation by one actor must not change the next one's answer.
      const f = route.read ? shared : await fixture();
      const { method, path, body } = route.request(f);
      const res = await call(method, path, { token: who[actor].token, ...(body !== undefined ? { body } : {}) });
      checked++;
      if (res.status !== route.expect[actor]) failures.push(`${route.name} as ${actor}: ${res.status} (want ${route.expect[actor]}) ${JSON.stringify(res.body)}`);
      if (res.status >= 400) assert.equal(typeof res.body.error, 'string', `${route.name} as ${actor}: error shape`);
    }
  }
  assert.deepEqual(failures, [], failures.join('\n'));
  assert.equal(checked, ROUTES.length * ACTORS.length);
});

test('denied requests change nothing', async () => {
  const f = await fixture();
  const snapshot = async () =>
    (
      await env.db.pool.query(
        `SELECT (SELECT count(*) FROM builds)::int AS builds, (SELECT count(*) FROM outbox)::int AS outbox,
                (SELECT json_agg(json_build_object('d', deprecated, 'x', deleted, 'a', active_version_id) ORDER BY id) FROM templates) AS templates,
                (SELECT json_agg(json_build_object('s', status, 'i', invalidated_at) ORDER BY id) FROM presets) AS presets`,
      )
    ).rows[0];
  const before = await snapshot();
  const attempts: [Actor, string, string][] = [
    ['memberA', 'POST', `/api/v1/templates/${f.templateId}/deprecate`],
    ['orgAdminA', 'DELETE', `/api/v1/templates/${f.templateId}`],
    ['templateAdminB', 'POST', `/api/v1/templates/${f.templateId}/versions/${f.nextVersionId}/activate`],
    ['memberA', 'DELETE', `/api/v1/workspaces/${f.prebuildId}`],
    ['templateAdminA', 'DELETE', `/api/v1/workspaces/${f.workspaceId}`],
    ['orgAdminB', 'DELETE', `/api/v1/workspaces/${f.workspaceId}`],
    ['orgAdminA', 'POST', `/api/v1/presets/${f.presetId}/invalidate`],
    ['memberB', 'POST', `/api/v1/presets/${f.presetId}/resume`],
    ['memberA', 'POST', `/api/v1/presets/${f.presetId}/resume`],
    ['memberA', 'POST', `/api/v1/presets/${f.presetId}/invalidate`],
  ];
  for (const [actor, method, path] of attempts) {
    const res = await call(method, path, { token: who[actor].token });
    assert.ok(res.status === 403 || res.status === 404, `${actor} ${method} ${path}: ${res.status}`);
  }
  assert.deepEqual(await snapshot(), before);
});

test('a user token only ever resolves to its user: expired tokens answer 401', async () => {
  const res = await call('POST', '/api/v1/tokens', { token: who.memberA.token, body: { name: 'short', expires_in_seconds: 60 } });
  assert.equal(res.status, 201);
  const token = res.body.token as string;
  assert.match(token, /^wp_[A-Za-z0-9_-]{43}$/);
  const me = await call('GET', '/api/v1/users/me', { token });
  assert.equal(me.body.id, who.memberA.userId);
  await env.db.pool.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND name = 'short'`, [who.memberA.userId]);
  assert.equal((await call('GET', '/api/v1/users/me', { token })).status, 401);
  const stored = async (value: Buffer) => (await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM api_tokens WHERE token_hash = $1', [value])).rows[0]!.n;
  assert.equal(await stored(hashToken(token)), 1, 'stored as its SHA-256');
  assert.equal(await stored(Buffer.from(token)), 0, 'the secret itself is not stored');
});
