import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { findPrincipalByTokenHash, hashToken, type Principal } from '@warmpool/db';
import type { ApiDeps } from './deps.js';
import { can } from './authz.js';
import { cacheFor } from './cache.js';
import { ApiError } from './errors.js';
import { CONSOLE_HEADER, sessionToken } from './session.js';

/**
 * Authentication, registered where it applies: `apiAuthentication` in the /api/v1 context, `dashboardAuthentication`
 * in each Bull Board context, `metricsAuthentication` on /metrics. Health checks, the OpenAPI document, the login page
 * and the console's shell live outside them, so they need no principal.
 */

/** Resolves an API token to its principal, or undefined (unknown, malformed or expired). */
export type Authenticator = (token: string) => Promise<Principal | undefined>;

const TOKEN_SHAPE = /^wp_[A-Za-z0-9_-]{20,100}$/;

// Principals by token hash for WARMPOOL_API_CACHE_MS: a revoked token or a changed role takes effect on every replica
// within that bound (a token's own expiry is checked on every request), and authentication costs no round trip on a hit.
export function tokenAuthenticator(deps: ApiDeps): Authenticator {
  return (token) => {
    if (!TOKEN_SHAPE.test(token)) return Promise.resolve(undefined);
    const hash = hashToken(token);
    return cacheFor<Principal>(deps.pool, 'principals', deps.config.apiCacheMs)
      .get(hash.toString('hex'), () => findPrincipalByTokenHash(deps.pool, hash))
      .then((principal) => (principal?.expiresAt && principal.expiresAt.getTime() <= Date.now() ? undefined : principal));
  };
}

const bearerToken = (request: FastifyRequest) => /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];

/**
 * Wraps a check so its refusal is answered by the hook itself: plugins such as Bull Board install their own error
 * handlers, which must not see authentication failures.
 */
function answering(check: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): onRequestHookHandler {
  return async (request, reply) => {
    try {
      await check(request, reply);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      reply.status(err.status).send({ error: err.code, message: err.message, details: err.details });
    }
    // A hook that answered (refusal or redirect) returns the reply, so fastify runs nothing after it.
    return reply.sent ? reply : undefined;
  };
}

const unauthenticated = (token: string | undefined) => new ApiError(401, 'unauthenticated', token ? 'unknown or expired API token' : 'a valid bearer API token is required');

/** API routes: a bearer token, or the session cookie together with the console's header (see session.ts). */
export function apiAuthentication(authenticate: Authenticator): onRequestHookHandler {
  return answering(async (request) => {
    const token = bearerToken(request) ?? (request.headers[CONSOLE_HEADER] === '1' ? sessionToken(request) : undefined);
    const principal = token ? await authenticate(token) : undefined;
    if (!principal) throw unauthenticated(token);
    request.principal = principal;
  });
}

const digest = (text: string) => createHash('sha256').update(text).digest();
const SITE = { organizationId: null };

/**
 * The api's /metrics: its pool metrics carry every organization's, template's and preset's names, so only a scraper
 * presenting `WARMPOOL_METRICS_TOKEN` as its bearer token, or a site-wide owner's API token, may read them.
 */
export function metricsAuthentication(metricsToken: string | undefined, authenticate: Authenticator): onRequestHookHandler {
  const expected = metricsToken === undefined ? undefined : digest(metricsToken);
  return answering(async (request) => {
    const token = bearerToken(request);
    // Digests of equal length, so the comparison takes the same time whatever the presented token.
    if (token && expected && timingSafeEqual(digest(token), expected)) return;
    const principal = token ? await authenticate(token) : undefined;
    if (!principal) throw unauthenticated(token);
    if (!can(principal, 'metrics.read', SITE)) throw new ApiError(403, 'forbidden', 'metrics name every organization: they need the metrics token or a site-wide owner');
  });
}

/** Owners control queues; site-wide template admins get a read-only view; nobody else (queues hold every org's jobs). */
export function dashboardAccess(principal: Principal): 'full' | 'read-only' | 'none' {
  if (can(principal, 'queues.operate', SITE)) return 'full';
  if (can(principal, 'queues.read', SITE)) return 'read-only';
  return 'none';
}

/**
 * A Bull Board (full or read-only, mounted at `base`): bearer token or the session cookie; a browser without a
 * session is sent to the login page. Bull Board has no authentication and its read-only mode only hides buttons,
 * so this hook enforces both, and sends read-only principals from the full board to the read-only one.
 */
export function dashboardAuthentication(authenticate: Authenticator, options: { mode: 'full' | 'read-only'; base: string; login: string }): onRequestHookHandler {
  return answering(async (request, reply) => {
    const bearer = bearerToken(request);
    const token = bearer ?? sessionToken(request);
    const principal = token ? await authenticate(token) : undefined;
    if (!principal) {
      if (request.method === 'GET' && !bearer) return reply.redirect(options.login, 302);
      throw unauthenticated(token);
    }
    request.principal = principal;
    const access = dashboardAccess(principal);
    if (access === 'none') throw new ApiError(403, 'forbidden', 'the queue dashboard is for owners and site-wide template admins');
    if (access === 'read-only' && request.method !== 'GET' && request.method !== 'HEAD') throw new ApiError(403, 'forbidden', 'read-only access: queue actions need the owner role');
    if (options.mode === 'full' && access !== 'full') {
      if (request.method === 'GET' && !request.url.includes('/api/')) return reply.redirect(`${options.base}-read-only/`, 302);
      throw new ApiError(403, 'forbidden', 'read-only access: queue actions need the owner role');
    }
    return undefined;
  });
}
