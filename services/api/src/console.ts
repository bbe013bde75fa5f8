import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Authenticator } from './auth.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';
import { typed } from './routes/common.js';
import { CONSOLE_HEADER, endSession, startSession } from './session.js';

/** Where the pools console lives. Its shell and assets hold no data, so they need no session; its data calls do. */
export const CONSOLE_BASE = '/console';

/** The bundle `npm run build` writes (services/api/console/build.ts), from src/ and dist/ alike. */
export const CONSOLE_DIST = fileURLToPath(new URL('../dist/console/', import.meta.url));

/**
 * The page may load and contact nothing but this server: scripts and styles from bundle files only (no inline
 * code), no fonts or frames from anywhere, API calls to the same origin.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

type Asset = { body: Buffer; br: Buffer; gzip: Buffer; type: string };
type Bundle = { shell: string; assets: Map<string, Asset> };

function loadBundle(dir: string): Bundle | undefined {
  if (!existsSync(`${dir}index.html`) || !existsSync(`${dir}assets`)) return undefined;
  const assets = new Map<string, Asset>();
  for (const file of readdirSync(`${dir}assets`)) {
    const type = TYPES[file.slice(file.lastIndexOf('.'))];
    if (!type) continue;
    // Compressed once at start (a few ms for ~90 KiB), so every page load gets the small copy.
    const body = readFileSync(`${dir}assets/${file}`);
    assets.set(file, { body, br: brotliCompressSync(body), gzip: gzipSync(body), type });
  }
  return { shell: readFileSync(`${dir}index.html`, 'utf8'), assets };
}

/** A cookie-authenticated change must come from the console's own script (see session.ts). */
function requireConsoleHeader(headers: Record<string, string | string[] | undefined>): void {
  if (headers[CONSOLE_HEADER] !== '1') throw new ApiError(403, 'forbidden', `the ${CONSOLE_HEADER} header is required`);
}

/**
 * Serves the console's single-page app (one shell for every console path, hashed immutable assets) and its
 * session endpoints: POST checks a token and sets the shared HttpOnly session cookie, DELETE ends it.
 */
export async function consoleRoutes(app: FastifyInstance, deps: ApiDeps, authenticateToken: Authenticator, dir = CONSOLE_DIST): Promise<void> {
  const bundle = loadBundle(dir);
  if (!bundle) deps.logger.warn({ dir }, 'console bundle not found; run npm run build');
  await app.register(async (plain) => {
    const scope = typed(plain);
    scope.addHook('onSend', async (_request, reply: FastifyReply) => {
      reply.header('content-security-policy', CONSOLE_CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
    });
    const shell = async (_request: unknown, reply: FastifyReply) => {
      if (!bundle) return reply.status(503).type('text/plain').send('The console is not built: run npm run build.');
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(bundle.shell);
    };
    scope.get(CONSOLE_BASE, { schema: { hide: true } }, async (_request, reply) => reply.redirect(`${CONSOLE_BASE}/`, 302));
    scope.get(`${CONSOLE_BASE}/`, { schema: { hide: true } }, shell);
    scope.get(`${CONSOLE_BASE}/login`, { schema: { hide: true } }, shell);
    scope.get(`${CONSOLE_BASE}/presets/:id`, { schema: { hide: true } }, shell);
    const assetParams = { type: 'object', properties: { file: { type: 'string', maxLength: 100 } }, required: ['file'] } as const;
    scope.get(`${CONSOLE_BASE}/assets/:file`, { schema: { hide: true, params: assetParams } }, async (request, reply) => {
      const asset = bundle?.assets.get(request.params.file);
      if (!asset) throw new ApiError(404, 'not_found', 'asset not found');
      const accepts = String(request.headers['accept-encoding'] ?? '');
      const encoding = /\bbr\b/.test(accepts) ? 'br' : /\bgzip\b/.test(accepts) ? 'gzip' : undefined;
      reply.type(asset.type).header('cache-control', 'public, max-age=31536000, immutable').header('vary', 'accept-encoding');
      if (encoding) reply.header('content-encoding', encoding);
      return reply.send(encoding ? asset[encoding] : asset.body);
    });

    scope.post(
      `${CONSOLE_BASE}/session`,
      {
        schema: {
          hide: true,
          body: { type: 'object', properties: { token: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['token'], additionalProperties: false },
        },
      },
      async (request, reply) => {
        requireConsoleHeader(request.headers);
        const principal = await authenticateToken(request.body.token.trim());
        if (!principal) throw new ApiError(401, 'unauthenticated', 'unknown or expired API token', [{ path: 'body.token', message: 'unknown or expired' }]);
        return startSession(reply, request.body.token.trim(), deps.config.publicUrl).send({ username: principal.username });
      },
    );
    scope.delete(`${CONSOLE_BASE}/session`, { schema: { hide: true } }, async (request, reply) => {
      requireConsoleHeader(request.headers);
      return endSession(reply, deps.config.publicUrl).status(204).send();
    });
  });
}
