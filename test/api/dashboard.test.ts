import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { seedOrganization } from '../support/seed.js';
import { startTestApi, userWithRole } from '../support/api.js';

let env: Awaited<ReturnType<typeof startTestApi>>;
let owner: string;
let siteTemplateAdmin: string;
let orgTemplateAdmin: string;
let member: string;

before(async () => {
  env = await startTestApi();
  const org = await seedOrganization(env.db.pool, 'dash');
  owner = (await userWithRole(env.db.pool, 'owner', null)).token;
  siteTemplateAdmin = (await userWithRole(env.db.pool, 'template-admin', null)).token;
  orgTemplateAdmin = (await userWithRole(env.db.pool, 'template-admin', org)).token;
  member = (await userWithRole(env.db.pool, 'member', org)).token;
});
after(async () => env.stop());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${env.api.url}${path}`, { headers, redirect: 'manual' });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('anonymous visits are refused: the page redirects to the login form, the board API answers 401', async () => {
  const page = await get('/admin/queues/');
  assert.equal(page.status, 302);
  assert.equal(page.headers.get('location'), '/admin/login');
  assert.equal((await get('/admin/queues/api/queues')).status, 302);
  assert.equal((await fetch(`${env.api.url}/admin/queues/api/queues`, { method: 'PUT', redirect: 'manual' })).status, 401);
  const login = await get('/admin/login');
  assert.equal(login.status, 200);
  assert.match(await login.text(), /API token/);
});

test('owners get the full board; site template admins a read-only one; others 403; no asset from outside', async () => {
  const full = await get('/admin/queues/', bearer(owner));
  assert.equal(full.status, 200);
  const html = await full.text();
  assert.ok(!/https?:\/\//.test(html.replace(/<base[^>]*>/, '')), 'no external asset in the page');
  const queues = await get('/admin/queues/api/queues', bearer(owner));
  assert.equal(queues.status, 200);
  const names = ((await queues.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
  assert.deepEqual(names, ['build-requests', 'build-results', 'notification-sends', 'notifications', 'reconcile', 'scheduler-tick', 'webhook-deliveries']);

  const redirected = await get('/admin/queues/', bearer(siteTemplateAdmin));
  assert.equal(redirected.status, 302);
  assert.equal(redirected.headers.get('location'), '/admin/queues-read-only/');
  assert.equal((await get('/admin/queues-read-only/api/queues', bearer(siteTemplateAdmin))).status, 200);
  const action = await fetch(`${env.api.url}/admin/queues-read-only/api/queues/reconcile/clean/failed`, { method: 'PUT', headers: bearer(siteTemplateAdmin) });
  assert.equal(action.status, 403, 'read-only is enforced by the server, not just hidden buttons');
  const ownerOnly = await fetch(`${env.api.url}/admin/queues/api/queues/reconcile/clean/failed`, { method: 'PUT', headers: bearer(siteTemplateAdmin) });
  assert.equal(ownerOnly.status, 403);

  for (const token of [orgTemplateAdmin, member]) assert.equal((await get('/admin/queues/', bearer(token))).status, 403);
});

test('the login form turns a token into an HttpOnly session cookie', async () => {
  const res = await fetch(`${env.api.url}/admin/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: owner }).toString(),
    redirect: 'manual',
  });
  assert.equal(res.status, 303);
  const cookie = res.headers.get('set-cookie') ?? '';
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const page = await get('/admin/queues/api/queues', { cookie: cookie.split(';')[0]! });
  assert.equal(page.status, 200);
  const bad = await fetch(`${env.api.url}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=wp_nope' });
  assert.equal(bad.status, 401);
  assert.equal((await fetch(`${env.api.url}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${member}` })).status, 403);
});

test('the login form refuses a cross-site post (Origin, or Referer without it): no session cookie, so no login CSRF', async () => {
  const signIn = (headers: Record<string, string>) =>
    fetch(`${env.api.url}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ token: owner }).toString(),
      redirect: 'manual',
    });
  const own = new URL(env.api.url).origin;
  const crossSite: Record<string, string>[] = [{ origin: 'https://evil.example' }, { origin: 'null' }, { referer: 'https://evil.example/page' }, { origin: 'https://evil.example', referer: `${own}/admin/login` }];
  for (const headers of crossSite) {
    const res = await signIn(headers);
    assert.equal(res.status, 403, JSON.stringify(headers));
    assert.equal(res.headers.get('set-cookie'), null, JSON.stringify(headers));
    assert.match(await res.text(), /another site/);
  }
  // The form's own page, the configured public URL, or a client sending neither header (curl) signs in.
  const sameSite: Record<string, string>[] = [{ origin: own }, { referer: `${own}/admin/login` }, { origin: 'http://127.0.0.1:8080' }, {}];
  for (const headers of sameSite) {
    const res = await signIn(headers);
    assert.equal(res.status, 303, JSON.stringify(headers));
    assert.match(res.headers.get('set-cookie') ?? '', /warmpool_session=wp_/);
  }
});

test('the offline Bull Board page lives in one directory shared by every api process, not one new directory per start', async () => {
  const { execFileSync } = await import('node:child_process');
  const script = "import('./services/api/src/admin.ts').then((m) => console.log(m.offlineViews()))";
  const run = () => execFileSync(process.execPath, ['--conditions=development', '--import', 'tsx', '-e', script], { encoding: 'utf8' }).trim();
  const first = run();
  const second = run();
  assert.equal(first, second, 'two processes use the same directory');
  const { readdirSync, readFileSync } = await import('node:fs');
  assert.ok(readdirSync(first).includes('index.ejs'));
  assert.doesNotMatch(readFileSync(`${first}/index.ejs`, 'utf8'), /fonts\.googleapis\.com/);
});
