import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { createQueueSet, createRedis, type NotificationEvent, type QueueSet, type RedisClient } from '@warmpool/bus';
import { listNotifications } from '@warmpool/db';
import { createLogger, loadConfig } from '@warmpool/runtime';
import { deliveryCount, startNotifier, type Notifier } from '../src/index.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../../../test/support/env.js';
import { seedPresets } from '../../../test/support/seed.js';
import { waitFor } from '../../../test/support/wait.js';

// A real SMTP server on a loopback port (smtp-server, from the nodemailer project), whose behaviour each test sets:
// accept, fail each recipient once (451), refuse connections (421), hang before the greeting, reject recipients (550).
type Mode = 'ok' | 'flaky' | 'refuse' | 'hang' | 'reject';
type Received = { rcptTo: string[]; mail: ParsedMail; user: string | undefined };

const ATTEMPTS = 3;
const TIMEOUT_MS = 1_500;
const FROM = 'Warmpool <warmpool@example.com>';

let mode: Mode = 'ok';
const received: Received[] = [];
const connections = { count: 0 };
const failedOnce = new Set<string>();
let smtp: SMTPServer;
let webhookReceiver: Server;
const webhookPosts: string[] = [];
let db: TestDatabase;
let queuePrefix: Awaited<ReturnType<typeof createTestQueuePrefix>>;
let notifier: Notifier;
let producer: RedisClient;
let queues: QueueSet;
const users: Record<string, string> = {};

function startSmtp(): Promise<SMTPServer> {
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true, // a reverse DNS lookup per connection would delay the greeting
    allowInsecureAuth: true, // loopback only
    closeTimeout: 200,
    onAuth(auth, _session, callback) {
      if (auth.username === 'mailer' && auth.password === 'smtp-test-password') return callback(null, { user: auth.username });
      return callback(new Error('bad credentials'));
    },
    onConnect(_session, callback) {
      connections.count++;
      if (mode === 'hang') return; // never greets: the client's greeting timeout must fire
      if (mode === 'refuse') return callback(Object.assign(new Error('service not available, try later'), { responseCode: 421 }));
      return callback();
    },
    onRcptTo(address, _session, callback) {
      if (mode === 'reject') return callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }));
      if (mode === 'flaky' && !failedOnce.has(address.address)) {
        failedOnce.add(address.address);
        return callback(Object.assign(new Error('greylisted, try again'), { responseCode: 451 }));
      }
      return callback();
    },
    onData(stream, session: SMTPServerSession, callback) {
      simpleParser(stream)
        .then((mail) => {
          received.push({ rcptTo: session.envelope.rcptTo.map((r) => r.address), mail, user: session.user as string | undefined });
          callback();
        })
        .catch(callback);
    },
  });
  server.on('error', () => undefined); // client disconnects during the hang test
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function addUser(name: string, email: string | null): Promise<string> {
  const { rows } = await db.pool.query<{ id: string }>(`INSERT INTO users (username, email) VALUES ($1, $2) RETURNING id`, [name, email]);
  await db.pool.query(`INSERT INTO role_assignments (user_id, role) VALUES ($1, 'owner')`, [rows[0]!.id]);
  return rows[0]!.id;
}

async function preset() {
  const [seeded] = await seedPresets(db.pool, [{ name: `p-${randomUUID().slice(0, 8)}` }]);
  return seeded!;
}

const hardLimited = (presetId: string): NotificationEvent => ({ type: 'preset-hard-limited', presetId, transitionAt: new Date().toISOString(), failures: 3, lastError: 'image "broken" not found' });

type SendRow = { id: string; username: string; status: string; attempts: number; last_error: string | null };
async function emailSends(presetId: string): Promise<SendRow[]> {
  const { rows } = await db.pool.query<SendRow>(
    `SELECT s.id, u.username, s.status, s.attempts, s.last_error
     FROM notification_sends s JOIN notification_deliveries d ON d.id = s.delivery_id
     JOIN notifications n ON n.id = s.notification_id JOIN users u ON u.id = n.user_id
     WHERE d.preset_id = $1 AND s.channel = 'email' ORDER BY u.username`,
    [presetId],
  );
  return rows;
}

/** Waits until every e-mail of the preset's event reached a final status. */
async function finishedEmails(presetId: string): Promise<SendRow[]> {
  return waitFor(
    async () => {
      const rows = await emailSends(presetId);
      return rows.length > 0 && rows.every((r) => r.status !== 'pending') ? rows : undefined;
    },
    { timeoutMs: 20_000, what: `e-mails of ${presetId} finished` },
  );
}

const mailsTo = (address: string, presetName: string) => received.filter((r) => r.rcptTo.includes(address) && r.mail.subject?.includes(presetName));

before(async () => {
  db = await createTestDatabase();
  queuePrefix = await createTestQueuePrefix();
  smtp = await startSmtp();
  webhookReceiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      webhookPosts.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => webhookReceiver.listen(0, '127.0.0.1', () => r()));
  const config = loadConfig({
    DATABASE_URL: db.url,
    REDIS_URL,
    WARMPOOL_QUEUE_PREFIX: queuePrefix.prefix,
    WARMPOOL_PUBLIC_URL: 'https://warmpool.example.com',
    WARMPOOL_WEBHOOK_URL: `http://127.0.0.1:${(webhookReceiver.address() as AddressInfo).port}/hooks`,
    WARMPOOL_WEBHOOK_SECRET: 'email-test-webhook-secret',
    WARMPOOL_SMTP_HOST: '127.0.0.1',
    WARMPOOL_SMTP_PORT: String((smtp.server.address() as AddressInfo).port),
    WARMPOOL_SMTP_TLS: 'none',
    WARMPOOL_SMTP_USER: 'mailer',
    WARMPOOL_SMTP_PASSWORD: 'smtp-test-password',
    WARMPOOL_SMTP_FROM: FROM,
    WARMPOOL_SMTP_TIMEOUT_MS: String(TIMEOUT_MS),
    WARMPOOL_SMTP_ATTEMPTS: String(ATTEMPTS),
  });
  notifier = await startNotifier({ config, logger: createLogger('email-test', { level: 'silent' }), pool: db.pool, backoffBaseMs: 20, backoffMaxMs: 100 });
  producer = createRedis(REDIS_URL, { role: 'producer' });
  queues = createQueueSet(producer, queuePrefix.prefix);
  users.alice = await addUser('alice', 'alice@example.com');
  users.bob = await addUser('bob', 'bob@example.com');
  users.carol = await addUser('carol', null);
  // bob keeps e-mail for everything but this kind.
  await db.pool.query(`INSERT INTO notification_preferences (user_id, kind, channel, enabled) VALUES ($1, 'preset-hard-limited', 'email', false)`, [users.bob]);
});

after(async () => {
  await notifier?.close();
  await queues?.close();
  producer?.disconnect();
  await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
  await new Promise<void>((r) => (webhookReceiver ? webhookReceiver.close(() => r()) : r()));
  await queuePrefix?.cleanup();
  await db?.drop();
});

test('each recipient gets one e-mail with the subject, plain-text and HTML bodies from the same message; opted-out and address-less recipients are recorded as skipped', async () => {
  mode = 'ok';
  const p = await preset();
  const { rows } = await db.pool.query<{ name: string }>(`SELECT name FROM presets WHERE id = $1`, [p.presetId]);
  const presetName = rows[0]!.name;
  const event = hardLimited(p.presetId);
  const skippedBefore = await deliveryCount('skipped', 'email');
  const started = Date.now();
  await queues.notifications.add(event.type, event, { jobId: randomUUID() });
  const sends = await finishedEmails(p.presetId);
  const latencyMs = Date.now() - started;
  assert.equal(sends[0]!.last_error, null, 'first attempt succeeded');
  assert.deepEqual(
    sends.map((s) => [s.username, s.status, s.attempts, s.last_error]),
    [
      ['alice', 'delivered', 1, null],
      ['bob', 'skipped', 0, 'e-mail turned off by the recipient for this kind'],
      ['carol', 'skipped', 0, 'no e-mail address'],
    ],
  );
  assert.equal(await deliveryCount('skipped', 'email'), skippedBefore + 2, 'skips are counted');
  const mails = mailsTo('alice@example.com', presetName);
  assert.equal(mails.length, 1);
  const { mail, rcptTo, user } = mails[0]!;
  assert.deepEqual(rcptTo, ['alice@example.com'], 'one recipient per message: addresses are never disclosed to each other');
  assert.equal(user, 'mailer', 'authenticated with the configured credentials');
  assert.equal(mail.from?.text, '"Warmpool" <warmpool@example.com>');
  const title = (await db.pool.query<{ title: string }>(`SELECT title FROM notifications WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1`, [users.alice])).rows[0]!.title;
  assert.equal(mail.subject, title, 'the subject is the inbox title');
  assert.match(title, new RegExp(`^Prebuilds stopped: .+ preset "${presetName}" reached its failure limit$`));
  assert.equal(mail.messageId, `<${sends[0]!.id}@warmpool.example.com>`);
  assert.equal(mail.headers.get('x-warmpool-kind'), 'preset-hard-limited');
  assert.match(mail.text ?? '', /failed 3 time\(s\) in a row/);
  assert.match(mail.text ?? '', /Last error: image "broken" not found/);
  assert.match(mail.text ?? '', new RegExp(`Preset status: https://warmpool\\.example\\.com/api/v1/presets/${p.presetId}/status`));
  assert.match(mail.text ?? '', /warmpool notifications set preset-hard-limited email off/);
  const html = String(mail.html);
  assert.match(html, /<h2[^>]*>Prebuilds stopped: .* preset &quot;p-/);
  assert.match(html, /Last error: image &quot;broken&quot; not found/);
  assert.match(html, new RegExp(`<a href="https://warmpool\\.example\\.com/api/v1/presets/${p.presetId}/status">Preset status</a>`));
  assert.equal(received.filter((r) => r.rcptTo.some((a) => a.startsWith('bob@'))).length, 0, 'bob turned this kind off');
  const inbox = await db.pool.query(`SELECT n.user_id FROM notifications n JOIN notification_deliveries d ON d.id = n.delivery_id WHERE d.preset_id = $1`, [p.presetId]);
  assert.equal(inbox.rowCount, 3, 'the inbox keeps the notice for everyone');
  console.log(`# e-mail delivered ${latencyMs} ms after the event was queued`);

  // A redelivered event sends nothing again.
  await queues.notifications.add(event.type, event, { jobId: randomUUID() });
  await queues.notifications.add(event.type, event, { jobId: 'redelivered-email-event' });
  await waitFor(async () => (await queues.notifications.getJob('redelivered-email-event'))?.finishedOn, { what: 'redelivery processed' });
  assert.equal(mailsTo('alice@example.com', presetName).length, 1, 'no duplicate');
});

test('a server failing a recipient once (451) gets the e-mail retried and delivered exactly once', async () => {
  mode = 'flaky';
  const p = await preset();
  await queues.notifications.add('preset-hard-limited', hardLimited(p.presetId));
  const sends = await finishedEmails(p.presetId);
  const alice = sends.find((s) => s.username === 'alice')!;
  assert.equal(alice.status, 'delivered');
  assert.equal(alice.attempts, 2);
  assert.equal(received.filter((r) => r.mail.messageId === `<${alice.id}@warmpool.example.com>`).length, 1, 'no loss, no duplicate');
});

test('a refusing server (421 on connect) is retried, then the e-mail is dead-lettered and kept in the inbox', async () => {
  mode = 'refuse';
  const before = await deliveryCount('dead_letter', 'email');
  const connectionsBefore = connections.count;
  const p = await preset();
  await queues.notifications.add('preset-hard-limited', hardLimited(p.presetId));
  const alice = (await finishedEmails(p.presetId)).find((s) => s.username === 'alice')!;
  assert.equal(alice.status, 'dead_letter');
  assert.equal(alice.attempts, ATTEMPTS);
  assert.match(alice.last_error!, /421/);
  assert.equal(connections.count - connectionsBefore, ATTEMPTS, 'one connection per attempt');
  assert.equal(received.filter((r) => r.mail.messageId === `<${alice.id}@warmpool.example.com>`).length, 0);
  assert.equal(await deliveryCount('dead_letter', 'email'), before + 1);
  const { rows } = await db.pool.query(`SELECT 1 FROM notifications WHERE id = (SELECT notification_id FROM notification_sends WHERE id = $1)`, [alice.id]);
  assert.equal(rows.length, 1, 'not lost: the inbox row stays');
  const inbox = await listNotifications(db.pool, users.alice!, { limit: 1 });
  assert.deepEqual(inbox.items[0]!.email, { status: 'dead_letter', attempts: ATTEMPTS, lastError: alice.last_error }, 'the inbox API shows the dead letter');
});

test('a hanging server times out each attempt and is dead-lettered, while webhooks keep being delivered', async () => {
  mode = 'hang';
  const p = await preset();
  const started = Date.now();
  await queues.notifications.add('preset-hard-limited', hardLimited(p.presetId));
  await waitFor(() => webhookPosts.some((b) => b.includes(p.presetId)), { what: 'webhook of the same event' });
  const webhookMs = Date.now() - started;
  assert.ok(webhookMs < TIMEOUT_MS, `the webhook went out in ${webhookMs} ms, before the first SMTP timeout`);
  const alice = (await finishedEmails(p.presetId)).find((s) => s.username === 'alice')!;
  assert.equal(alice.status, 'dead_letter');
  assert.equal(alice.attempts, ATTEMPTS);
  assert.match(alice.last_error!, new RegExp(`^timed out after ${TIMEOUT_MS} ms`));
  assert.ok(Date.now() - started >= ATTEMPTS * TIMEOUT_MS, 'each attempt waited for its timeout');
});

test('a recipient the server rejects for good (550) is dead-lettered after one attempt', async () => {
  mode = 'reject';
  const p = await preset();
  await queues.notifications.add('preset-hard-limited', hardLimited(p.presetId));
  const alice = (await finishedEmails(p.presetId)).find((s) => s.username === 'alice')!;
  assert.equal(alice.status, 'dead_letter');
  assert.equal(alice.attempts, 1);
  assert.match(alice.last_error!, /550/);
});
