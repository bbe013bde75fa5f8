import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSmtp, createMailer, renderEmail } from '../src/index.js';
import { waitFor } from '../../../test/support/wait.js';
import { exampleProcess } from './example-process.js';

// The shipped local SMTP sink (examples/smtp-sink.mjs, used by `npm start`), run as its own process.
const sink = exampleProcess('smtp-sink.mjs');
const lines = sink.lines;

test('the example SMTP sink prints each message it accepts as one JSON line', async () => {
  const smtp = { host: '127.0.0.1', port: sink.port(), tls: 'none' as const, auth: undefined, from: 'Warmpool <warmpool@localhost>', timeoutMs: 5_000, attempts: 1 };
  assert.equal(await checkSmtp(smtp), null, 'the start-up check passes');
  assert.match((await checkSmtp({ ...smtp, tls: 'starttls' }))!, /STARTTLS/i, 'a server without STARTTLS fails the check when TLS is required');
  const send = createMailer(smtp);
  const content = renderEmail('preset-hard-limited', { title: 'Prebuilds stopped', body: 'It failed.', labels: {}, links: [] });
  await send({ ...content, to: 'ops@example.com', kind: 'preset-hard-limited', messageId: '<sink-test@localhost>' });
  const line = await waitFor(() => lines.find((l) => l.includes('sink-test')), { what: 'printed message' });
  const printed = JSON.parse(line) as { to: string[]; from: string; subject: string; messageId: string; text: string };
  assert.deepEqual(printed.to, ['ops@example.com']);
  assert.equal(printed.from, '"Warmpool" <warmpool@localhost>');
  assert.equal(printed.subject, 'Prebuilds stopped');
  assert.equal(printed.messageId, '<sink-test@localhost>');
  assert.match(printed.text, /^It failed\./);
});
