/** The console's only way to the server: same-origin calls to the /api/v1 routes with the session cookie. */
// The answers' shapes come from the server's own types (type-only imports, erased from the bundle).
import type { PoolHistory, PresetBuild, ReplacementNotice } from '@warmpool/db';

export type Scope = {
  username: string;
  site: { actions: string[]; paused: boolean };
  rolesFor: Record<string, string[]>;
  organizations: { id: string; name: string; actions: string[] }[];
};

export type { PresetStatus } from '@warmpool/core';
/** A build of the pool; another user's workspace (to a reader without workspace.read) comes without name and error. */
export type Build = Omit<PresetBuild, 'ownerId' | 'workspaceName'> & { workspaceName: string | null; usable: boolean };
/** A replacement notice; another user's claim comes without the workspace name and the claimant. */
export type Replacement = Omit<ReplacementNotice, 'claimantId' | 'workspaceName' | 'claimant'> & { workspaceName: string | null; claimant: string | null };
export type PreviewPoint = { at: string; instances: number };
/** GET /presets/:id/history: the pool samples and the requests per hour served by a prebuild (hits) or not (misses). */
export type History = PoolHistory & { since: string; sampleIntervalMs: number };

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
const REQUEST_TIMEOUT_MS = 10_000;

export async function request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const url = path.startsWith('/console/') ? path : `/api/v1${path}`;
  // A request that hangs must not stop the polling loop that awaits it.
  const init: RequestInit = { method, credentials: 'same-origin', headers: body === undefined ? HEADERS : { ...HEADERS, 'content-type': 'application/json' }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  if (body !== undefined) init.body = JSON.stringify(body);
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch {
    throw new HttpError(0, 'network', 'The server did not answer in time; retrying.');
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
