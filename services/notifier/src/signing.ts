import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signing (documented in docs/WEBHOOKS.md): `X-Warmpool-Signature: v1=<hex HMAC-SHA256(secret,
 * "<timestamp>.<body>")>` with `X-Warmpool-Timestamp: <unix seconds>`. Signing the timestamp with the body lets
 * receivers reject replays of an old, validly signed request.
 */

export const SIGNATURE_HEADER = 'x-warmpool-signature';
export const TIMESTAMP_HEADER = 'x-warmpool-timestamp';
/** Receivers reject requests whose timestamp is further than this from their clock. */
export const REPLAY_WINDOW_SECONDS = 300;

export function sign(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export type Verification = { ok: true } | { ok: false; reason: string };

/** What a receiver does; used by our tests, mirrored by examples/webhook-receiver.mjs. */
export function verify(secret: string, headers: { timestamp: string | undefined; signature: string | undefined }, body: string, nowSeconds = Math.floor(Date.now() / 1000)): Verification {
  const timestamp = Number(headers.timestamp);
  if (!headers.timestamp || !Number.isInteger(timestamp)) return { ok: false, reason: 'missing or malformed timestamp' };
  if (Math.abs(nowSeconds - timestamp) > REPLAY_WINDOW_SECONDS) return { ok: false, reason: 'timestamp outside the replay window' };
  const expected = Buffer.from(sign(secret, timestamp, body));
  // A header may carry several comma-separated signatures (e.g. during secret rotation); one match suffices.
  const candidates = (headers.signature ?? '').split(',').map((s) => Buffer.from(s.trim()));
  const match = candidates.some((c) => c.length === expected.length && timingSafeEqual(c, expected));
  return match ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}
