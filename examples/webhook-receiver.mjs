#!/usr/bin/env node
// A tiny, dependency-free receiver for Warmpool notification webhooks (see docs/WEBHOOKS.md).
//
//   WARMPOOL_WEBHOOK_SECRET=... PORT=9000 node examples/webhook-receiver.mjs
//
// Verifies the Standard Webhooks signature and timestamp (rejecting replays), then prints each message ONCE as one
// JSON line on stdout: retries of a delivery that already arrived (same webhook-id) are acknowledged but not printed
// again. With a library the check is one call: `new Webhook(secret).verify(body, headers)` (npm standardwebhooks).
// Diagnostics go to stderr, so stdout carries only messages.
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

const SECRET = process.env.WARMPOOL_WEBHOOK_SECRET;
const PORT = Number(process.env.PORT ?? 9000);
const HOST = process.env.HOST ?? '127.0.0.1';
const REPLAY_WINDOW_SECONDS = 300;
const MAX_BODY_BYTES = 1024 * 1024;

if (!SECRET) {
  console.error('WARMPOOL_WEBHOOK_SECRET must be set (the same secret the notifier signs with)');
  process.exit(2);
}
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  console.error(`PORT must be an integer port 0-65535, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

// Delivery ids already printed; kept for the replay window plus a margin (a retry can only come later with a
// fresh timestamp, and the notifier stops retrying long before this matters for a demo).
const seen = new Map();
const rememberMs = 24 * 3600 * 1000;

// whsec_<base64> secrets are the decoded bytes; any other secret is used as its UTF-8 bytes.
const KEY = SECRET.startsWith('whsec_') ? Buffer.from(SECRET.slice('whsec_'.length), 'base64') : Buffer.from(SECRET, 'utf8');

function verify(headers, body) {
  const id = headers['webhook-id'];
  if (!id) return 'missing webhook-id';
  const timestamp = Number(headers['webhook-timestamp']);
  if (!Number.isInteger(timestamp)) return 'missing or malformed webhook-timestamp';
  if (Math.abs(Date.now() / 1000 - timestamp) > REPLAY_WINDOW_SECONDS) return 'timestamp outside the 5 minute window (replay?)';
  const expected = Buffer.from(createHmac('sha256', KEY).update(`${id}.${timestamp}.${body}`).digest('base64'));
  // Space-separated `v1,<base64>` entries: one per active secret during a rollover; one match suffices.
  const given = String(headers['webhook-signature'] ?? '')
    .split(' ')
    .map((entry) => entry.split(','))
    .filter(([version]) => version === 'v1')
    .map(([, signature]) => Buffer.from(signature ?? ''));
  return given.some((g) => g.length === expected.length && timingSafeEqual(g, expected)) ? null : 'signature mismatch';
}

function answer(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST') return answer(res, 405, 'POST only\n');
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      answer(res, 413, 'body too large\n');
      req.destroy();
    } else chunks.push(chunk);
  });
  req.on('end', () => {
    // Verify over the exact bytes received: re-serialising parsed JSON would change them.
    const body = Buffer.concat(chunks).toString('utf8');
    const problem = verify(req.headers, body);
    if (problem) {
      console.error(`rejected: ${problem}`);
      return answer(res, 401, `${problem}\n`);
    }
    let message;
    try {
      message = JSON.parse(body);
    } catch {
      console.error('rejected: body is not JSON');
      return answer(res, 400, 'body is not JSON\n');
    }
    const id = req.headers['webhook-id'];
    const now = Date.now();
    for (const [key, at] of seen) if (now - at > rememberMs) seen.delete(key);
    if (id && seen.has(id)) return answer(res, 200, 'duplicate ignored\n');
    if (id) seen.set(id, now);
    process.stdout.write(`${JSON.stringify(message)}\n`);
    answer(res, 200, 'ok\n');
  });
});

server.listen(PORT, HOST, () => {
  const address = server.address();
  console.error(`listening on http://${HOST}:${typeof address === 'object' && address ? address.port : PORT}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
