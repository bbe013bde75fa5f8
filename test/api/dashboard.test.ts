import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { privateDirectoryProblem } from '../../services/api/src/admin.js';
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

/** offlineViews() run in a fresh api process (optionally with its own TMPDIR): the folder it serves the page from. */
function offlineViewsOfNewProcess(env: Record<string, string> = {}): { dir: string; temporary: boolean; refused?: string } {
  const script = "import('./services/api/src/admin.ts').then((m) => console.log(JSON.stringify(m.offlineViews())))";
  const out = execFileSync(process.execPath, ['--conditions=development', '--import', 'tsx', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  return JSON.parse(out.trim()) as { dir: string; temporary: boolean; refused?: string };
}

test('the offline Bull Board page lives in one private directory shared by every api process, not one new directory per start', () => {
  const first = offlineViewsOfNewProcess();
  const second = offlineViewsOfNewProcess();
  assert.equal(first.dir, second.dir, 'two processes use the same directory');
  assert.equal(first.temporary, false);
  assert.equal(privateDirectoryProblem(first.dir), null);
  assert.equal(statSync(first.dir).mode & 0o777, 0o700);
  assert.ok(readdirSync(first.dir).includes('index.ejs'));
  assert.doesNotMatch(readFileSync(`${first.dir}/index.ejs`, 'utf8'), /fonts\.googleapis\.com/);
});

test('a template folder made first by someone else, opened to others or linked elsewhere is never used', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'warmpool-dash-test-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const { version } = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@bull-board/ui/package.json'), 'utf8')) as { version: string };
  const uid = process.getuid!();
  // Both the name earlier releases used and today's per-user name: an attacker may guess either.
  const names = [`warmpool-bull-board-${version}`, `warmpool-bull-board-${version}-${uid}`];
  const plant = (mode: number, owner?: number) => {
    for (const name of names) {
      const dir = path.join(root, name);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'index.ejs'), 'PLANTED <%= process.exit(7) %>');
      chmodSync(dir, mode);
      if (owner !== undefined) chownSync(dir, owner, owner);
    }
  };
  const cases: [string, () => void][] = [
    ['world-writable', () => plant(0o777)],
    ['group-writable', () => plant(0o770)],
    // Changing a folder's owner needs root; the other cases still run without it.
    ...(uid === 0 ? [['owned by another user', () => plant(0o700, 65534)] as [string, () => void]] : []),
    [
      'a link to a folder the attacker controls',
      () => {
        const elsewhere = mkdtempSync(path.join(root, 'elsewhere-'));
        for (const name of names) {
          rmSync(path.join(root, name), { recursive: true, force: true });
          symlinkSync(elsewhere, path.join(root, name));
        }
      },
    ],
  ];
  for (const [what, setUp] of cases) {
    setUp();
    const views = offlineViewsOfNewProcess({ TMPDIR: root });
    assert.ok(!names.some((name) => views.dir === path.join(root, name)), `${what}: served from the planted folder ${views.dir}`);
    assert.equal(views.temporary, true, what);
    assert.match(views.refused ?? '', /owned by|writable by group or others|not a directory/, what);
    assert.equal(privateDirectoryProblem(views.dir), null, what);
    assert.equal(lstatSync(views.dir).mode & 0o777, 0o700, what);
    assert.doesNotMatch(readFileSync(path.join(views.dir, 'index.ejs'), 'utf8'), /PLANTED/, what);
  }
});
