import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import { unstorableText } from '@warmpool/core';
import { ping, type Principal } from '@warmpool/db';
import { adminRoutes } from './admin.js';
import { apiAuthentication, metricsAuthentication, tokenAuthenticator, type Authenticator } from './auth.js';
import { consoleRoutes } from './console.js';
import type { ApiDeps } from './deps.js';
import { answerNotFound, ApiError, frameworkError, installErrorHandler } from './errors.js';
import { notificationRoutes } from './routes/notifications.js';
import { poolViewRoutes } from './routes/pool-views.js';
import { prebuildRoutes } from './routes/prebuilds.js';
import { templateRoutes } from './routes/templates.js';
import { installRequestSpans } from './tracing.js';
import { userRoutes } from './routes/users.js';
import { workspaceRoutes } from './routes/workspaces.js';

export type { ApiDeps } from './deps.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** JSON bodies must be valid UTF-8 (a decoding error is a 400, not a silently replaced character); YAML manifests too. */
function installBodyParsers(app: FastifyInstance): void {
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
}

/** Text PostgreSQL cannot store (NUL, lone surrogates) is a client mistake: 400 naming every place it occurs. */
function refuseUnstorableText(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const paths = [...unstorableText(request.params, 'params'), ...unstorableText(request.query, 'querystring'), ...unstorableText(request.body, 'body')];
    if (paths.length > 0) {
      throw new ApiError(400, 'invalid_text', 'text must not contain NUL characters or unpaired surrogates', paths.map((path) => ({ path, message: 'unstorable character' })));
    }
  });
}

/** Routes anyone may call (health checks and the OpenAPI document), and /metrics behind its own credential. */
async function publicRoutes(app: FastifyInstance, deps: ApiDeps, authenticate: Authenticator): Promise<void> {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const [db, redis] = await Promise.all([ping(deps.pool), deps.redis.ping().then((r) => r === 'PONG', () => false)]);
    return reply.status(db && redis ? 200 : 503).send({ ok: db && redis, postgres: db, redis });
  });
  app.get('/metrics', { schema: { hide: true }, onRequest: metricsAuthentication(deps.config.metricsToken, authenticate) }, async (_request, reply) => reply.type(deps.registry.contentType).send(await deps.registry.metrics()));
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** The JSON API under /api/v1: one context whose every route (and unknown path) needs a principal. */
async function apiRoutes(app: FastifyInstance, deps: ApiDeps, authenticate: Authenticator): Promise<void> {
  await app.register(
    async (api) => {
      api.addHook('onRequest', apiAuthentication(authenticate));
      for (const routes of [templateRoutes, workspaceRoutes, prebuildRoutes, userRoutes, notificationRoutes, poolViewRoutes]) await routes(api, deps);
      api.setNotFoundHandler(answerNotFound);
    },
    { prefix: '/api/v1' },
  );
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
  installRequestSpans(app);
  installErrorHandler(app);
  installBodyParsers(app);
  refuseUnstorableText(app);
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Warmpool API', version: '1.0.0', description: 'Pools of prebuilt workspaces: templates, claims, prebuild operations.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.decorateRequest('principal', null as unknown as Principal);

  const authenticate = tokenAuthenticator(deps);
  await publicRoutes(app, deps, authenticate);
  if (deps.config.bullBoard) await adminRoutes(app, deps, authenticate);
  await consoleRoutes(app, deps, authenticate);
  await apiRoutes(app, deps, authenticate);
  return app;
}
