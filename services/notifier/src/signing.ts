import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signing (the standardwebhooks.com convention, documented in docs/WEBHOOKS.md):
 * `webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`. Receivers verify
 * with any Standard Webhooks library in one call. During a secret rollover one signature per active secret is sent,
 * space-separated, so receivers holding either secret accept the request.
 */

export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';

const SECRET_PREFIX = 'whsec_';

/**
 * The HMAC key of a secret: `whsec_<base64>` secrets (the Standard Webhooks form) are the decoded bytes; any other
 * secret is used as its UTF-8 bytes (receivers pass it "raw", e.g. `new Webhook(secret, { format: 'raw' })`).
 */
export function signingKey(secret: string): Buffer {
  return secret.startsWith(SECRET_PREFIX) ? Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

/** The `webhook-signature` value: one `v1,<base64>` per active secret (current first), space-separated. */
export function sign(secrets: readonly string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((secret) => `v1,${createHmac('sha256', signingKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`).join(' ');
}

/** The three Standard Webhooks headers of one attempt (a retry gets a fresh timestamp and signature, the same id). */
export function signatureHeaders(secrets: readonly string[], id: string, body: string, nowMs = Date.now()): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    [WEBHOOK_ID_HEADER]: id,
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
    [WEBHOOK_SIGNATURE_HEADER]: sign(secrets, id, timestamp, body),
  };
}
