import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
import { startSession } from './session.js';

/** Where Bull Board lives, and the cookie a browser session carries its token in. */
export const ADMIN_BASE = '/admin/queues';
export const ADMIN_LOGIN = '/admin/login';

/**
 * Bull Board UI's page links a web font from outside the machine; serve a copy of its template without it (the UI
 * falls back to system fonts) so the dashboard works offline and leaks nothing to third parties. The copy's
 * directory is named by the UI version, not the process, so restarts and replicas share one directory instead of
 * leaving a new one behind at every start; it is written to a private file and renamed, so a concurrent start never
 * reads half a file.
 */
export function offlineViews(): string {
  const require = createRequire(import.meta.url);
  const uiRoot = path.dirname(require.resolve('@bull-board/ui/package.json'));
  const { version } = JSON.parse(readFileSync(path.join(uiRoot, 'package.json'), 'utf8')) as { version: string };
  const dir = path.join(os.tmpdir(), `warmpool-bull-board-${version}`);
  mkdirSync(dir, { recursive: true });
  const template = readFileSync(path.join(uiRoot, 'dist', 'index.ejs'), 'utf8').replace(/<link[^>]*fonts\.googleapis\.com[^>]*>\s*/g, '');
  const target = path.join(dir, 'index.ejs');
  const partial = `${target}.${process.pid}.tmp`;
  writeFileSync(partial, template);
  renameSync(partial, target);
  return dir;
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
      const token = typeof request.body?.token === 'string' ? request.body.token.trim() : '';
      const principal = token ? await authenticateToken(token) : undefined;
      if (!principal) return reply.status(401).type('text/html').send(LOGIN_PAGE('Unknown or expired token.'));
      const access = dashboardAccess(principal);
      if (access === 'none') return reply.status(403).type('text/html').send(LOGIN_PAGE('This token may not open the queue dashboard.'));
      return startSession(reply, token, deps.config.publicUrl).redirect(access === 'full' ? `${ADMIN_BASE}/` : `${ADMIN_BASE}-read-only/`, 303);
    });
  });

  const views = offlineViews();
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
    serverAdapter.setViewsPath(views);
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
