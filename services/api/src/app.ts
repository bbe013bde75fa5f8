import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Registry } from 'prom-client';
import { unstorableText } from '@warmpool/core';
import type { QueueSet } from '@warmpool/bus';
import { findPrincipalByTokenHash, hashToken, ping, type Pool, type Principal } from '@warmpool/db';
import type { OutboxRelay } from '@warmpool/operations';
import type { Config, Logger } from '@warmpool/runtime';
import { cacheFor } from './cache.js';
import { ApiError, frameworkError, installErrorHandler } from './errors.js';
import { ADMIN_BASE, ADMIN_LOGIN, adminRoutes, dashboardAccess, guardDashboard } from './admin.js';
import { consoleRoutes, isConsolePath } from './console.js';
import { CONSOLE_HEADER, sessionToken } from './session.js';
import { poolViewRoutes } from './routes/pool-views.js';
import { templateRoutes } from './routes/templates.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { prebuildRoutes } from './routes/prebuilds.js';
import { userRoutes } from './routes/users.js';
import { notificationRoutes } from './routes/notifications.js';
import type { ApiMetrics } from './metrics.js';

export type ApiDeps = {
  pool: Pool;
  queues: QueueSet;
  /** The producer connection, pinged by /readyz. */
  redis: { ping(): Promise<string> };
  relay: OutboxRelay;
  config: Config;
  logger: Logger;
  registry: Registry;
  metrics: ApiMetrics;
};

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/api/v1/openapi.json']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

const TOKEN_SHAPE = /^wp_[A-Za-z0-9_-]{20,100}$/;

// Principals by token hash for WARMPOOL_API_CACHE_MS: a revoked token or a changed role takes effect on every replica
// within that bound (a token's own expiry is checked on every request), and authentication costs no round trip on a hit.
function principalFor(deps: ApiDeps, token: string): Promise<Principal | undefined> {
  if (!TOKEN_SHAPE.test(token)) return Promise.resolve(undefined);
  const hash = hashToken(token);
  return cacheFor<Principal>(deps.pool, 'principals', deps.config.apiCacheMs)
    .get(hash.toString('hex'), () => findPrincipalByTokenHash(deps.pool, hash))
    .then((principal) => (principal?.expiresAt && principal.expiresAt.getTime() <= Date.now() ? undefined : principal));
}

/**
 * Resolves the caller to a principal; every route except health checks, metrics, the login page and the console's
 * static shell needs one. API routes take a bearer token, or the session cookie when the console's header is sent;
 * the queue dashboard also accepts the session cookie set by the login page.
 */
async function authenticate(deps: ApiDeps, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const path = request.url.split('?')[0] ?? '';
  if (PUBLIC_PATHS.has(path) || path === ADMIN_LOGIN || isConsolePath(path)) return;
  const dashboard = path.startsWith(ADMIN_BASE);
  const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
  const cookieAllowed = dashboard || request.headers[CONSOLE_HEADER] === '1';
  const token = bearer ?? (cookieAllowed ? sessionToken(request.headers.cookie) : undefined);
  const principal = token ? await principalFor(deps, token) : undefined;
  if (!principal) {
    if (dashboard && request.method === 'GET' && !bearer) return reply.redirect(ADMIN_LOGIN, 302);
    throw new ApiError(401, 'unauthenticated', token ? 'unknown or expired API token' : 'a valid bearer API token is required');
  }
  request.principal = principal;
  if (!dashboard) return;
  guardDashboard(request);
  const readOnlyBoard = path.startsWith(`${ADMIN_BASE}-read-only`);
  if (!readOnlyBoard && dashboardAccess(principal) !== 'full') {
    if (request.method === 'GET' && !path.includes('/api/')) return reply.redirect(`${ADMIN_BASE}-read-only/`, 302);
    throw new ApiError(403, 'forbidden', 'read-only access: queue actions need the owner role');
  }
}

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.maxBodyBytes,
    genReqId: () => crypto.randomUUID(),
    frameworkErrors: frameworkError,
    // Unknown fields are rejected, not silently dropped; every problem is reported at once.
    ajv: { customOptions: { removeAdditional: false, allErrors: true, coerceTypes: false } },
  });
  installErrorHandler(app);
  // JSON bodies must be valid UTF-8: decoding errors are a 400, not a silently replaced character.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      const text = utf8.decode(body);
      done(null, text.trim() === '' ? undefined : JSON.parse(text));
    } catch (err) {
      done(new ApiError(400, err instanceof SyntaxError ? 'invalid_json' : 'invalid_utf8', err instanceof SyntaxError ? `invalid JSON: ${err.message}` : 'the body is not valid UTF-8'), undefined);
    }
  });
  // Manifests may also be sent as YAML; the route parses the text.
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      done(null, utf8.decode(body));
    } catch {
      done(new ApiError(400, 'invalid_utf8', 'the body is not valid UTF-8'), undefined);
    }
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Warmpool API', version: '1.0.0', description: 'Pools of prebuilt workspaces: templates, claims, prebuild operations.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.decorateRequest('principal', null as unknown as Principal);
  // Answer auth failures here: plugins such as Bull Board install their own error handlers, which must not see them.
  app.addHook('onRequest', async (request, reply) => {
    try {
      return await authenticate(deps, request, reply);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return reply.status(err.status).send({ error: err.code, message: err.message, details: err.details });
    }
  });

  // Text PostgreSQL cannot store (NUL, lone surrogates) is a client mistake: 400 naming every place it occurs.
  app.addHook('preValidation', async (request) => {
    const paths = [
      ...unstorableText(request.params, 'params'),
      ...unstorableText(request.query, 'querystring'),
      ...unstorableText(request.body, 'body'),
    ];
    if (paths.length > 0) {
      throw new ApiError(400, 'invalid_text', 'text must not contain NUL characters or unpaired surrogates', paths.map((path) => ({ path, message: 'unstorable character' })));
    }
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const [db, redis] = await Promise.all([
      ping(deps.pool),
      deps.redis.ping().then((r) => r === 'PONG', () => false),
    ]);
    return reply.status(db && redis ? 200 : 503).send({ ok: db && redis, postgres: db, redis });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => reply.type(deps.registry.contentType).send(await deps.registry.metrics()));
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  if (deps.config.bullBoard) await adminRoutes(app, deps, (token) => principalFor(deps, token));
  await consoleRoutes(app, deps, (token) => principalFor(deps, token));
  await app.register(async (api) => {
    await templateRoutes(api, deps);
    await workspaceRoutes(api, deps);
    await prebuildRoutes(api, deps);
    await userRoutes(api, deps);
    await notificationRoutes(api, deps);
    await poolViewRoutes(api, deps);
  }, { prefix: '/api/v1' });
  return app;
}
