/**
 * The browser session shared by Bull Board and the pools console: an API token in one HttpOnly, SameSite=Strict
 * cookie, set by a login page after the token was checked. API routes accept the cookie only from requests that
 * carry CONSOLE_HEADER: a page on another site cannot add that header without CORS (which this server never
 * grants), so the cookie cannot be used for cross-site requests even where SameSite is not enforced.
 */
export const SESSION_COOKIE = 'warmpool_session';
export const CONSOLE_HEADER = 'x-warmpool-console';
const SESSION_MAX_AGE_S = 8 * 3600;

/** The session token from the cookie header, if any (no cookie plugin needed for one HttpOnly cookie). */
export function sessionToken(cookieHeader: string | undefined): string | undefined {
  const match = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]+)`).exec(cookieHeader ?? '');
  return match ? decodeURIComponent(match[1]!) : undefined;
}

const attributes = (publicUrl: string, maxAge: number) =>
  `Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${publicUrl.startsWith('https:') ? '; Secure' : ''}`;

/** The Set-Cookie value that starts a session carrying `token` (Secure when the public URL is https). */
export const sessionCookie = (token: string, publicUrl: string) => `${SESSION_COOKIE}=${encodeURIComponent(token)}; ${attributes(publicUrl, SESSION_MAX_AGE_S)}`;

/** The Set-Cookie value that ends the session. */
export const endedSessionCookie = (publicUrl: string) => `${SESSION_COOKIE}=; ${attributes(publicUrl, 0)}`;
