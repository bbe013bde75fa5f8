import { lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { dashboardAccess, dashboardAuthentication, type Authenticator } from './auth.js';
import type { ApiDeps } from './deps.js';
import { answerNotFound } from './errors.js';
import { isCrossSite, startSession } from './session.js';

/** Where Bull Board lives, and the cookie a browser session carries its token in. */
export const ADMIN_BASE = '/admin/queues';
export const ADMIN_LOGIN = '/admin/login';

/**
 * Why `dir` may not hold a template the api renders, or null: it must be a directory itself (not a link), owned by
 * the api's user and writable by nobody else, or another local user could replace the template and run code in the api.
 */
export function privateDirectoryProblem(dir: string): string | null {
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) return 'is not a directory';
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) return `is owned by uid ${stat.uid}, not by this process (uid ${uid})`;
  if ((stat.mode & 0o022) !== 0) return `is writable by group or others (mode ${(stat.mode & 0o777).toString(8)})`;
  return null;
}

/**
 * The folder for the template: `<tmpdir>/<name>-<uid>`, made with mode 0700 and checked, so restarts and replicas of
 * one user share one folder instead of leaving a new one at every start. One that fails the check (made first by
 * someone else, a link, or opened up) is never used: a fresh private folder from mkdtemp, removed at close, is.
 */
function templateDirectory(name: string): { dir: string; temporary: boolean; refused?: string } {
  const shared = path.join(os.tmpdir(), `${name}-${process.getuid?.() ?? 'user'}`);
  try {
    mkdirSync(shared, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const refused = privateDirectoryProblem(shared);
  if (refused === null) return { dir: shared, temporary: false };
  const dir = mkdtempSync(`${shared}-`);
  const problem = privateDirectoryProblem(dir);
  if (problem !== null) throw new Error(`the private folder ${dir} ${problem}`);
  return { dir, temporary: true, refused: `${shared} ${refused}` };
}

/**
 * Bull Board UI's page links a web font from outside the machine; serve a copy of its template without it (the UI
 * falls back to system fonts) so the dashboard works offline and leaks nothing to third parties. The copy lives in a
 * folder only the api's user can write (templateDirectory); it is written to a private file and renamed, so a
 * concurrent start never reads half a file.
 */
export function offlineViews(): { dir: string; temporary: boolean; refused?: string } {
  const require = createRequire(import.meta.url);
  const uiRoot = path.dirname(require.resolve('@bull-board/ui/package.json'));
  const { version } = JSON.parse(readFileSync(path.join(uiRoot, 'package.json'), 'utf8')) as { version: string };
  const views = templateDirectory(`warmpool-bull-board-${version}`);
  const template = readFileSync(path.join(uiRoot, 'dist', 'index.ejs'), 'utf8').replace(/<link[^>]*fonts\.googleapis\.com[^>]*>\s*/g, '');
  const target = path.join(views.dir, 'index.ejs');
  const partial = `${target}.${process.pid}.tmp`;
  writeFileSync(partial, template, { mode: 0o600 });
  renameSync(partial, target);
  return views;
}

const LOGIN_PAGE = (error = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warmpool — sign in</title>
<style>body{font-family:system-ui,sans-serif;background:#f5f6f8;display:grid;place-items:center;min-height:100vh;margin:0}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;display:grid;gap:.75rem;min-width:22rem}
input,button{font:inherit;padding:.5rem}.error{color:#b00020}</style></head>
<body><form method="post" action="${ADMIN_LOGIN}"><h1>Warmpool queues</h1>
<label for="token">API token</label><input id="token" name="token" type="password" autocomplete="off" required>
${error ? `<p class="error">${error}</p>` : ''}<button type="submit">Sign in</button></form></body></html>`;

/**
 * Mounts Bull Board at /admin/queues for every queue, plus a small login page that turns an API token into an
 * HttpOnly session cookie (the bearer header works too). Each board is its own context with its own authentication
 * hook; the login page is public.
 */
export async function adminRoutes(app: FastifyInstance, deps: ApiDeps, authenticateToken: Authenticator): Promise<void> {
  // The login form is the only place that accepts form bodies, so the parser lives in its own scope.
  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body: string, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body)));
    });
    scope.get(ADMIN_LOGIN, { schema: { hide: true } }, async (_request, reply) => reply.type('text/html').send(LOGIN_PAGE()));
    // No body schema on purpose: a browser form gets an HTML page for every refusal, never a JSON validation error.
    scope.post<{ Body: { token?: unknown } | undefined }>(ADMIN_LOGIN, { schema: { hide: true } }, async (request, reply) => {
      // Login CSRF: a page elsewhere must not sign this browser into the attacker's token (the cookie is the console's too).
      if (isCrossSite(request, deps.config.publicUrl)) return reply.status(403).type('text/html').send(LOGIN_PAGE('Sign-in from another site refused: open this page on this server.'));
      const token = typeof request.body?.token === 'string' ? request.body.token.trim() : '';
      const principal = token ? await authenticateToken(token) : undefined;
      if (!principal) return reply.status(401).type('text/html').send(LOGIN_PAGE('Unknown or expired token.'));
      const access = dashboardAccess(principal);
      if (access === 'none') return reply.status(403).type('text/html').send(LOGIN_PAGE('This token may not open the queue dashboard.'));
      return startSession(reply, token, deps.config.publicUrl).redirect(access === 'full' ? `${ADMIN_BASE}/` : `${ADMIN_BASE}-read-only/`, 303);
    });
  });

  const views = offlineViews();
  if (views.refused) deps.logger.warn({ refused: views.refused, using: views.dir }, 'Bull Board template folder refused; using a private one for this process');
  if (views.temporary) app.addHook('onClose', async () => rmSync(views.dir, { recursive: true, force: true }));
  const queues = deps.queues.all;
  for (const mode of ['full', 'read-only'] as const) {
    const serverAdapter = new FastifyAdapter();
    const base = mode === 'full' ? ADMIN_BASE : `${ADMIN_BASE}-read-only`;
    serverAdapter.setBasePath(base);
    createBullBoard({
      queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: mode === 'read-only', allowRetries: mode === 'full' })),
      serverAdapter,
      options: { uiConfig: { boardTitle: mode === 'full' ? 'Warmpool queues' : 'Warmpool queues (read-only)' } },
    });
    // After createBullBoard, which points the adapter at the UI package's own template.
    serverAdapter.setViewsPath(views.dir);
    await app.register(
      async (board) => {
        board.addHook('onRequest', dashboardAuthentication(authenticateToken, { mode, base, login: ADMIN_LOGIN }));
        await board.register(serverAdapter.registerPlugin());
        board.setNotFoundHandler(answerNotFound);
      },
      { prefix: base },
    );
  }
}
