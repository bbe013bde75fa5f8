import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Registry } from 'prom-client';
import type { QueueSet } from '@warmpool/bus';
import { findPrincipalByTokenHash, hashToken, type Pool, type Principal } from '@warmpool/db';
import type { OutboxRelay } from '@warmpool/pipeline';
import type { Config, Logger } from '@warmpool/runtime';
import { ApiError, installErrorHandler } from './errors.js';
import { templateRoutes } from './routes/templates.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { prebuildRoutes } from './routes/prebuilds.js';
import { userRoutes } from './routes/users.js';
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

/** Resolves the bearer token to a principal; every route except health checks and metrics needs one. */
async function authenticate(deps: ApiDeps, request: FastifyRequest): Promise<void> {
  const path = request.url.split('?')[0] ?? '';
  if (PUBLIC_PATHS.has(path)) return;
  const header = request.headers.authorization ?? '';
  const match = /^Bearer (wp_[A-Za-z0-9_-]{20,100})$/.exec(header);
  if (!match) throw new ApiError(401, 'unauthenticated', 'a valid bearer API token is required');
  const principal = await findPrincipalByTokenHash(deps.pool, hashToken(match[1]!));
  if (!principal) throw new ApiError(401, 'unauthenticated', 'unknown or expired API token');
  request.principal = principal;
}

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.maxBodyBytes,
    genReqId: () => crypto.randomUUID(),
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
  app.addHook('onRequest', async (request) => authenticate(deps, request));

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const [db, redis] = await Promise.all([
      deps.pool.query('SELECT 1').then(() => true, () => false),
      deps.redis.ping().then((r) => r === 'PONG', () => false),
    ]);
    return reply.status(db && redis ? 200 : 503).send({ ok: db && redis, postgres: db, redis });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => reply.type(deps.registry.contentType).send(await deps.registry.metrics()));
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(async (api) => {
    await templateRoutes(api, deps);
    await workspaceRoutes(api, deps);
    await prebuildRoutes(api, deps);
    await userRoutes(api, deps);
  }, { prefix: '/api/v1' });
  return app;
}
