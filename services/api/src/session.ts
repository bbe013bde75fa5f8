import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The browser session shared by Bull Board and the pools console: an API token in one HttpOnly, SameSite=Strict
 * cookie, set by a login page after the token was checked. API routes accept the cookie only from requests that
 * carry CONSOLE_HEADER: a page on another site cannot add that header without CORS (which this server never
 * grants), so the cookie cannot be used for cross-site requests even where SameSite is not enforced.
 */
export const SESSION_COOKIE = 'warmpool_session';
export const CONSOLE_HEADER = 'x-warmpool-console';
const SESSION_MAX_AGE_S = 8 * 3600;

/** The session token from the cookie (parsed by @fastify/cookie), if any. */
export const sessionToken = (request: FastifyRequest): string | undefined => request.cookies[SESSION_COOKIE] || undefined;

const attributes = (publicUrl: string, maxAge: number): CookieSerializeOptions => ({
  path: '/',
  httpOnly: true,
  sameSite: 'strict',
  maxAge,
  secure: publicUrl.startsWith('https:'),
});

/** Starts a session carrying `token` (Secure when the public URL is https). */
export const startSession = (reply: FastifyReply, token: string, publicUrl: string) => reply.setCookie(SESSION_COOKIE, token, attributes(publicUrl, SESSION_MAX_AGE_S));

const originOf = (url: string): string | undefined => {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
};

/**
 * Whether a form post comes from another site: its `Origin` (or, when a browser sent none, its `Referer`) names an
 * origin other than this server's own (as the request reached it) or the configured public URL. A client sending
 * neither (curl, a script) is not a browser carrying someone's cookies, so it passes. An unparsable value or the
 * opaque `null` origin counts as another site.
 */
export function isCrossSite(request: FastifyRequest, publicUrl: string): boolean {
  const claimed = request.headers.origin ?? request.headers.referer;
  if (claimed === undefined) return false;
  const origin = originOf(claimed);
  return origin === undefined || (origin !== originOf(publicUrl) && origin !== `${request.protocol}://${request.host}`);
}

/** Ends the session (an empty cookie that expires at once). */
export const endSession = (reply: FastifyReply, publicUrl: string) => reply.setCookie(SESSION_COOKIE, '', attributes(publicUrl, 0));
