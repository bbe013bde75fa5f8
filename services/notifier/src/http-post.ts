/** A failure that retrying cannot fix (the receiver refused the request itself). */
export class PermanentDeliveryError extends Error {}

// 408 (timeout) and 429 (rate limited) are worth retrying; other 4xx mean the request itself is refused.
const isPermanentStatus = (status: number) => status >= 400 && status < 500 && status !== 408 && status !== 429;

/** POSTs a body; resolves on 2xx, throws PermanentDeliveryError on a refusing 4xx and Error on anything retryable. */
export async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  let response: Response;
  try {
    // The timeout covers the whole exchange, body included, so a hanging receiver frees the worker slot.
    const signal = AbortSignal.timeout(timeoutMs);
    response = await fetch(url, { method: 'POST', body, headers, signal, redirect: 'manual' });
    await response.arrayBuffer();
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') throw new Error(`timed out after ${timeoutMs} ms`, { cause: err });
    const cause = (err as Error & { cause?: Error }).cause;
    throw new Error(`request failed: ${cause?.message ?? (err as Error).message}`, { cause: err });
  }
  if (response.status >= 200 && response.status < 300) return;
  const error = `receiver answered HTTP ${response.status}`;
  throw isPermanentStatus(response.status) ? new PermanentDeliveryError(error) : new Error(error);
}

/**
 * The URL without query string or credentials, for logs: receivers sometimes put tokens there. `hostOnly` drops the
 * path too, for URLs whose path is the secret (chat incoming webhooks).
 */
export function safeTarget(url: string, hostOnly = false): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${hostOnly ? '/…' : u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
