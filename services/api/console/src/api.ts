/** The console's only way to the server: same-origin calls to the /api/v1 routes with the session cookie. */
// The answers' shapes come from the server's own types (type-only imports, erased from the bundle).
import type { PoolHistory } from '@warmpool/db';

export type Scope = {
  username: string;
  site: { actions: string[]; paused: boolean };
  rolesFor: Record<string, string[]>;
  organizations: { id: string; name: string; actions: string[] }[];
};

export type { PresetStatus } from '@warmpool/core';
export type { PresetBuild as Build, ReplacementNotice as Replacement } from '@warmpool/db';
export type PreviewPoint = { at: string; instances: number };
/** GET /presets/:id/history: the pool samples and claims (hits) per hour; misses are not recorded yet (null). */
export type History = PoolHistory & { since: string; sampleIntervalMs: number; misses: null };

/** An answer other than 2xx, with the API's error code and message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onSignedOut: (reason: string) => void = () => undefined;

/** Called when the server no longer accepts the session (expired or revoked token). */
export function whenSignedOut(handler: (reason: string) => void): void {
  onSignedOut = handler;
}

/** The header that lets this page's calls use the HttpOnly session cookie (the server refuses it otherwise). */
const HEADERS = { 'x-warmpool-console': '1' };

export async function request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const url = path.startsWith('/console/') ? path : `/api/v1${path}`;
  const init: RequestInit = { method, credentials: 'same-origin', headers: body === undefined ? HEADERS : { ...HEADERS, 'content-type': 'application/json' } };
  if (body !== undefined) init.body = JSON.stringify(body);
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch {
    throw new HttpError(0, 'network', 'The server did not answer; retrying.');
  }
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => undefined)) as { error?: string; message?: string } | undefined;
  if (!res.ok) {
    const error = new HttpError(res.status, data?.error ?? 'error', data?.message ?? res.statusText);
    if (res.status === 401 && !path.startsWith('/console/')) onSignedOut(error.message);
    throw error;
  }
  return data as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});
