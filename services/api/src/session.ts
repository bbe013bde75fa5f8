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

/** Ends the session (an empty cookie that expires at once). */
export const endSession = (reply: FastifyReply, publicUrl: string) => reply.setCookie(SESSION_COOKIE, '', attributes(publicUrl, 0));
