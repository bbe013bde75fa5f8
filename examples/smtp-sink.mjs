#!/usr/bin/env node
// A local SMTP sink for trying Warmpool's e-mail notifications without a mail server (see docs/NOTIFICATIONS.md).
//
//   PORT=2525 node examples/smtp-sink.mjs
//   WARMPOOL_SMTP_HOST=127.0.0.1 WARMPOOL_SMTP_PORT=2525 WARMPOOL_SMTP_TLS=none WARMPOOL_SMTP_FROM=warmpool@localhost node services/notifier
//
// Accepts every message on the loopback interface (no TLS, no auth: never expose it) and prints each one as a JSON
// line on stdout: envelope recipients, From, Subject, Message-ID and the plain-text body. Diagnostics go to stderr.
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

const PORT = Number(process.env.PORT ?? 2525);
const HOST = process.env.HOST ?? '127.0.0.1';
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  console.error(`PORT must be an integer port 0-65535, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

const server = new SMTPServer({
  disabledCommands: ['STARTTLS', 'AUTH'],
  disableReverseLookup: true,
  size: 5 * 1024 * 1024,
  onData(stream, session, callback) {
    simpleParser(stream)
      .then((mail) => {
        const line = { to: session.envelope.rcptTo.map((r) => r.address), from: mail.from?.text, subject: mail.subject, messageId: mail.messageId, text: mail.text };
        process.stdout.write(`${JSON.stringify(line)}\n`);
        callback();
      })
      .catch((err) => {
        console.error(`unreadable message: ${err.message}`);
        callback(err);
      });
  },
});
server.on('error', (err) => console.error(`smtp error: ${err.message}`));
server.listen(PORT, HOST, () => {
  const address = server.server.address();
  console.error(`listening on smtp://${HOST}:${typeof address === 'object' && address ? address.port : PORT}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
