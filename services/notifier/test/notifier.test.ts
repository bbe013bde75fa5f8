import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { createQueueSet, createRedis, type NotificationEvent, type QueueSet, type RedisClient } from '@warmpool/bus';
import type { DeliveryStatus } from '@warmpool/db';
import { createLogger, loadConfig } from '@warmpool/runtime';
import { Webhook } from 'standardwebhooks';
import { deliveryCount, startNotifier, type Notifier, type WebhookPayload } from '../src/index.js';
import { createTestDatabase, createTestQueuePrefix, REDIS_URL, type TestDatabase } from '../../../test/support/env.js';
import { seedPresets } from '../../../test/support/seed.js';
import { waitFor } from '../../../test/support/wait.js';

const SECRET = 'test-webhook-secret-0123456789';
const ATTEMPTS = 3;
const TIMEOUT_MS = 1_000; // generous: a loaded 2-core machine can take a few hundred ms for a loopback POST

type Received = { path: string; headers: IncomingHttpHeaders; body: string };

let db: TestDatabase;
let queuePrefix: { prefix: string; cleanup: () => Promise<void> };
let receiver: Server;
let baseUrl: string;
let notifier: Notifier;
let producer: RedisClient;
let queues: QueueSet;
const received: Received[] = [];
const logLines: string[] = [];
const hanging = new Set<() => void>();
let clock: () => Date = () => new Date();
const users: Record<string, string> = {};

/** A loopback receiver whose behaviour depends on the path: ok, flaky (500 once per delivery), down, hang. */
function startReceiver(): Promise<Server> {
  const failedOnce = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const id = String(req.headers['webhook-id']);
      if (path === '/hang') {
        hanging.add(() => res.destroy());
        return;
      }
      if (path === '/down' || (path === '/flaky' && !failedOnce.has(id))) {
        failedOnce.add(id);
        res.writeHead(500).end('broken');
        return;
      }
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function addUser(name: string, roles: { role: string; organizationId: string | null }[]): Promise<string> {
  const { rows } = await db.pool.query<{ id: string }>(`INSERT INTO users (username, email) VALUES ($1, $2) RETURNING id`, [name, `${name}@example.com`]);
  const id = rows[0]!.id;
  for (const r of roles) await db.pool.query(`INSERT INTO role_assignments (user_id, role, organization_id) VALUES ($1, $2, $3)`, [id, r.role, r.organizationId]);
  return id;
}

/** A preset in a fresh organization posting to `path` on the receiver, with its own template admin. */
async function presetWithReceiver(path: string | null, name = `p-${randomUUID().slice(0, 8)}`) {
  const [seeded] = await seedPresets(db.pool, [{ name }]);
  const { presetId, organizationId } = seeded!;
  await db.pool.query(`UPDATE organizations SET webhook_url = $2 WHERE id = $1`, [organizationId, path === null ? null : `${baseUrl}${path}`]);
  return { presetId, organizationId, templateId: seeded!.templateId, versionId: seeded!.versionId };
}

async function emit(event: NotificationEvent, jobId = randomUUID()): Promise<string> {
  await queues.notifications.add(event.type, event, { jobId });
  return jobId;
}

/** Waits until every given notification job finished (completed or failed). */
async function processed(jobIds: string[]): Promise<void> {
  await waitFor(async () => (await Promise.all(jobIds.map(async (id) => (await queues.notifications.getJob(id))?.finishedOn))).every(Boolean), { what: 'jobs processed' });
}

const hardLimited = (presetId: string, transitionAt = new Date().toISOString()): NotificationEvent => ({
  type: 'preset-hard-limited',
  presetId,
  transitionAt,
  failures: 3,
  lastError: 'terraform apply: quota exceeded',
});

async function finishedDelivery(presetId: string) {
  return waitFor(
    async () => {
      const { rows } = await db.pool.query<{ id: string; status: DeliveryStatus; attempts: number; last_error: string | null }>(
        `SELECT id, status, attempts, last_error FROM notification_deliveries WHERE preset_id = $1 AND status <> 'pending' ORDER BY created_at`,
        [presetId],
      );
      return rows[0];
    },
    { timeoutMs: 15_000, what: `finished delivery of preset ${presetId}` },
  );
}

async function inboxRows(presetId: string) {
  const { rows } = await db.pool.query<{ username: string; delivery_status: string; attempts: number; last_error: string | null }>(
    `SELECT u.username, n.delivery_status, n.attempts, n.last_error
     FROM notifications n JOIN users u ON u.id = n.user_id JOIN notification_deliveries d ON d.id = n.delivery_id
     WHERE d.preset_id = $1 ORDER BY u.username`,
    [presetId],
  );
  return rows;
}

const postsFor = (deliveryId: string) => received.filter((r) => r.headers['webhook-id'] === deliveryId);

before(async () => {
  db = await createTestDatabase();
  queuePrefix = await createTestQueuePrefix();
  receiver = await startReceiver();
  baseUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const config = loadConfig({
    DATABASE_URL: db.url,
    REDIS_URL,
    WARMPOOL_QUEUE_PREFIX: queuePrefix.prefix,
    WARMPOOL_PUBLIC_URL: 'https://warmpool.example.com',
    WARMPOOL_WEBHOOK_URL: `${baseUrl}/ok`,
    WARMPOOL_WEBHOOK_SECRET: SECRET,
    WARMPOOL_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    WARMPOOL_WEBHOOK_ATTEMPTS: String(ATTEMPTS),
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger('notifier-test', { level: 'debug', destination: sink });
  notifier = await startNotifier({ config, logger, pool: db.pool, backoffBaseMs: 20, backoffMaxMs: 100, now: () => clock() });
  producer = createRedis(REDIS_URL, { role: 'producer' });
  queues = createQueueSet(producer, queuePrefix.prefix);
  // Site-wide recipients of every notification, and users who must never get one.
  users.owner = await addUser('a-owner', [{ role: 'owner', organizationId: null }]);
  users.siteAdmin = await addUser('b-site-template-admin', [{ role: 'template-admin', organizationId: null }]);
});

after(async () => {
  for (const release of hanging) release();
  await notifier?.close();
  await queues?.close();
  producer?.disconnect();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  await queuePrefix?.cleanup();
  await db?.drop();
});

test('recipients are owners, site template admins and template admins of the preset organization only; the post is signed', async () => {
  const a = await presetWithReceiver('/ok');
  const [other] = await seedPresets(db.pool, [{ name: 'elsewhere' }]);
  await addUser('c-org-a-template-admin', [{ role: 'template-admin', organizationId: a.organizationId }]);
  await addUser('d-org-b-template-admin', [{ role: 'template-admin', organizationId: other!.organizationId }]);
  await addUser('e-org-a-admin', [{ role: 'org-admin', organizationId: a.organizationId }]);
  await addUser('f-org-a-member', [{ role: 'member', organizationId: a.organizationId }]);

  await emit(hardLimited(a.presetId));
  const delivery = await finishedDelivery(a.presetId);
  assert.equal(delivery.status, 'delivered');
  assert.deepEqual(
    (await inboxRows(a.presetId)).map((r) => [r.username, r.delivery_status, r.attempts]),
    [
      ['a-owner', 'delivered', 1],
      ['b-site-template-admin', 'delivered', 1],
      ['c-org-a-template-admin', 'delivered', 1],
    ],
  );

  const posts = postsFor(delivery.id);
  assert.equal(posts.length, 1);
  const post = posts[0]!;
  assert.equal(post.path, '/ok');
  // Verified the way a receiver does, with the Standard Webhooks library.
  const headers = post.headers as Record<string, string>;
  assert.equal(headers['webhook-id'], delivery.id);
  assert.deepEqual(new Webhook(SECRET, { format: 'raw' }).verify(post.body, headers), JSON.parse(post.body));
  assert.throws(() => new Webhook('another-secret-of-enough-length', { format: 'raw' }).verify(post.body, headers), /No matching signature/);
  assert.throws(() => new Webhook(SECRET, { format: 'raw' }).verify(post.body.replace('quota', 'QUOTA'), headers), /No matching signature/);
  const replay = { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 301) };
  assert.throws(() => new Webhook(SECRET, { format: 'raw' }).verify(post.body, replay), /too old/, 'replays older than 5 minutes are rejected');
  const signature = headers['webhook-signature']!;

  const payload = JSON.parse(post.body) as WebhookPayload;
  assert.equal(payload.id, delivery.id);
  assert.equal(payload.type, 'preset-hard-limited');
  assert.deepEqual(
    payload.recipients.map((r) => r.username),
    ['a-owner', 'b-site-template-admin', 'c-org-a-template-admin'],
  );
  assert.match(payload.message.title, /failure limit/);
  assert.match(payload.message.body, /quota exceeded/);
  assert.deepEqual(Object.keys(payload.message.labels).sort(), ['organization', 'preset', 'template', 'version']);
  assert.deepEqual(payload.message.links, [{ label: 'Preset status', url: `https://warmpool.example.com/api/v1/presets/${a.presetId}/status` }]);
  assert.ok(!logLines.some((l) => l.includes(SECRET) || l.includes(signature.slice(3))), 'secrets and signatures never logged');
});

test('a receiver failing once gets the delivery retried, then it is delivered', async () => {
  const p = await presetWithReceiver('/flaky');
  await emit(hardLimited(p.presetId));
  const delivery = await finishedDelivery(p.presetId);
  assert.equal(delivery.status, 'delivered');
  assert.equal(delivery.attempts, 2);
  const posts = postsFor(delivery.id);
  assert.equal(posts.length, 2);
  assert.equal(posts[0]!.body, posts[1]!.body, 'a retry carries the same message');
  assert.ok((await inboxRows(p.presetId)).every((r) => r.delivery_status === 'delivered' && r.attempts === 2));
});

test('a receiver that always fails gets the delivery dead-lettered after the last attempt, visible in the inbox and metrics', async () => {
  const before = await deliveryCount('dead_letter');
  const p = await presetWithReceiver('/down');
  await emit(hardLimited(p.presetId));
  const delivery = await finishedDelivery(p.presetId);
  assert.equal(delivery.status, 'dead_letter');
  assert.equal(delivery.attempts, ATTEMPTS);
  assert.equal(delivery.last_error, 'receiver answered HTTP 500');
  assert.equal(postsFor(delivery.id).length, ATTEMPTS);
  const rows = await inboxRows(p.presetId);
  assert.ok(rows.length >= 2);
  assert.ok(rows.every((r) => r.delivery_status === 'dead_letter' && r.attempts === ATTEMPTS && r.last_error === 'receiver answered HTTP 500'));
  assert.equal(await deliveryCount('dead_letter'), before + 1);
  assert.ok(logLines.some((l) => l.includes('webhook delivery dead-lettered')));
});

test('duplicate events (redelivery, concurrent copies) give one inbox row per recipient and one post', async () => {
  const p = await presetWithReceiver('/ok');
  const event = hardLimited(p.presetId);
  const copies = await Promise.all([emit(event), emit(event), emit(event)]);
  const delivery = await finishedDelivery(p.presetId);
  copies.push(await emit(event)); // after delivery as well
  await processed(copies);
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification_deliveries WHERE preset_id = $1`, [p.presetId]);
  assert.equal(rows[0]!.n, 1);
  assert.equal((await inboxRows(p.presetId)).length, 2);
  assert.equal(postsFor(delivery.id).length, 1);
});

test('a hanging receiver times out without delaying deliveries to others', async () => {
  const slow = await presetWithReceiver('/hang');
  const fast = await presetWithReceiver('/ok');
  await emit(hardLimited(slow.presetId));
  await waitFor(() => received.some((r) => r.path === '/hang'), { what: 'first hanging request' });
  const started = Date.now();
  await emit(hardLimited(fast.presetId));
  const fastDelivery = await finishedDelivery(fast.presetId);
  assert.equal(fastDelivery.status, 'delivered');
  assert.ok(Date.now() - started < TIMEOUT_MS * ATTEMPTS, 'delivered while the other receiver hangs');
  const slowDelivery = await finishedDelivery(slow.presetId);
  assert.equal(slowDelivery.status, 'dead_letter');
  assert.equal(slowDelivery.last_error, `timed out after ${TIMEOUT_MS} ms`);
  assert.equal(slowDelivery.attempts, ATTEMPTS);
});

test('malformed events are rejected without retries and logged', async () => {
  const p = await presetWithReceiver('/ok');
  const bad = [
    { name: 'preset-hard-limited', data: { type: 'preset-hard-limited', presetId: 'not-a-uuid', transitionAt: 'yesterday', failures: -1, lastError: null } },
    { name: 'preset-validation-failed', data: hardLimited(p.presetId) }, // name and type disagree
    { name: 'resource-replacements', data: { hello: 'world' } },
  ];
  const jobs = await Promise.all(bad.map((b) => queues.notifications.add(b.name, b.data)));
  for (const job of jobs) {
    const failed = await waitFor(async () => ((await queues.notifications.getJob(job.id!))?.failedReason ? await queues.notifications.getJob(job.id!) : undefined), {
      what: `job ${job.id} failed`,
    });
    assert.match(failed.failedReason, /malformed notification event/);
    assert.equal(failed.attemptsMade, 1, 'not retried');
  }
  assert.ok(logLines.filter((l) => l.includes('malformed notification event rejected')).length >= 3);
  assert.ok(logLines.some((l) => l.includes('presetId') && l.includes('Invalid UUID')), 'the log names the bad field');
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification_deliveries WHERE preset_id = $1`, [p.presetId]);
  assert.equal(rows[0]!.n, 0);
});

test('an identical message is sent to a recipient at most once per UTC day; each transition is considered once', async () => {
  const p = await presetWithReceiver('/ok');
  const failed = (at: string): NotificationEvent => ({ type: 'preset-validation-failed', presetId: p.presetId, transitionAt: at, error: 'missing required parameter "region"' });
  const first = failed('2026-03-01T10:00:00Z');
  await emit(first);
  const delivery = await finishedDelivery(p.presetId);
  assert.equal(delivery.status, 'delivered');

  // Resumed, failed again the same day with the identical message: no new rows, no post.
  await emit(failed('2026-03-01T12:00:00Z'));
  const skipped = await waitFor(async () => {
    const { rows } = await db.pool.query<{ status: string; last_error: string }>(`SELECT status, last_error FROM notification_deliveries WHERE preset_id = $1 AND id <> $2`, [p.presetId, delivery.id]);
    return rows[0];
  });
  assert.equal(skipped.status, 'skipped');
  assert.match(skipped.last_error, /already sent today/);
  assert.equal((await inboxRows(p.presetId)).length, 2);
  assert.equal(received.filter((r) => r.body.includes(p.presetId)).length, 1);

  // The next UTC day the same message is news again.
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
  clock = () => tomorrow;
  try {
    await emit(failed('2026-03-02T09:00:00Z'));
    await waitFor(async () => (await inboxRows(p.presetId)).length === 4, { what: 'rows of the next day' });
  } finally {
    clock = () => new Date();
  }
});

test('a replacement message labels the workspace, build, claimant and every replaced resource and says how to prevent it', async () => {
  const p = await presetWithReceiver('/ok');
  const claimant = await addUser(`claimant-${randomUUID().slice(0, 6)}`, []);
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO workspaces (organization_id, template_id, template_version_id, preset_id, owner_id, name) VALUES ($1, $2, $3, $4, $5, 'dev-box') RETURNING id`,
    [p.organizationId, p.templateId, p.versionId, p.presetId, claimant],
  );
  const workspaceId = rows[0]!.id;
  await emit({
    type: 'resource-replacements',
    presetId: p.presetId,
    workspaceId,
    buildId: randomUUID(),
    buildNumber: 2,
    claimantId: claimant,
    replacements: { 'aws_instance.dev': ['user_data', 'tags.Owner'], 'docker_container.ws': ['env'] },
  });
  const delivery = await finishedDelivery(p.presetId);
  const payload = JSON.parse(postsFor(delivery.id)[0]!.body) as WebhookPayload;
  const { labels, body, links } = payload.message;
  assert.equal(labels.workspace, 'dev-box');
  assert.equal(labels.build_number, '2');
  assert.match(labels.claimant!, /^claimant-/);
  assert.equal(labels.replaced_resources, 'aws_instance.dev: tags.Owner, user_data; docker_container.ws: env');
  assert.match(body, /aws_instance\.dev: tags\.Owner, user_data/);
  assert.match(body, /docker_container\.ws: env/);
  assert.match(body, /lifecycle \{ ignore_changes = \[env, tags\.Owner, user_data\] \}/);
  assert.deepEqual(links[1], { label: 'Workspace', url: `https://warmpool.example.com/api/v1/workspaces/${workspaceId}` });
});

test('an organization without its own webhook URL uses the global one', async () => {
  const p = await presetWithReceiver(null);
  await emit(hardLimited(p.presetId));
  const delivery = await finishedDelivery(p.presetId);
  assert.equal(delivery.status, 'delivered');
  assert.equal(postsFor(delivery.id)[0]!.path, '/ok');
});

test('an organization rolling its secret over gets both signatures; receivers with either secret verify', async () => {
  const p = await presetWithReceiver('/ok');
  const fresh = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
  const old = 'the-old-org-secret-0123';
  await db.pool.query(`UPDATE organizations SET webhook_secret = $2, webhook_secret_previous = $3 WHERE id = $1`, [p.organizationId, fresh, old]);
  await emit(hardLimited(p.presetId));
  const delivery = await finishedDelivery(p.presetId);
  assert.equal(delivery.status, 'delivered');
  const post = postsFor(delivery.id)[0]!;
  const headers = post.headers as Record<string, string>;
  assert.equal(headers['webhook-signature']!.split(' ').length, 2);
  assert.ok(new Webhook(fresh).verify(post.body, headers));
  assert.ok(new Webhook(old, { format: 'raw' }).verify(post.body, headers));
  assert.throws(() => new Webhook(SECRET, { format: 'raw' }).verify(post.body, headers), /No matching signature/, 'the global secret is not used');
});

test('an organization with a chat webhook gets one Slack-compatible post (text plus blocks) per event', async () => {
  const p = await presetWithReceiver('/ok');
  const chatPath = `/chat-${randomUUID().slice(0, 8)}`;
  await db.pool.query(`UPDATE organizations SET chat_webhook_url = $2 WHERE id = $1`, [p.organizationId, `${baseUrl}${chatPath}`]);
  const event = hardLimited(p.presetId);
  await emit(event);
  await emit(event); // a duplicate event posts nothing more
  const chat = await waitFor(async () => {
    const { rows } = await db.pool.query<{ status: string; attempts: number }>(
      `SELECT s.status, s.attempts FROM notification_sends s JOIN notification_deliveries d ON d.id = s.delivery_id WHERE d.preset_id = $1 AND s.channel = 'chat' AND s.status <> 'pending'`,
      [p.presetId],
    );
    return rows[0];
  });
  assert.deepEqual(chat, { status: 'delivered', attempts: 1 });
  const posts = received.filter((r) => r.path === chatPath);
  assert.equal(posts.length, 1);
  assert.equal(posts[0]!.headers['content-type'], 'application/json');
  const body = JSON.parse(posts[0]!.body) as { text: string; blocks: { type: string; text?: { type: string; text: string }; elements?: { type: string; url?: string; text: unknown }[] }[] };
  assert.match(body.text, /^Prebuilds stopped: .* reached its failure limit$/);
  assert.deepEqual(body.blocks.map((b) => b.type), ['header', 'section', 'context', 'actions']);
  assert.equal(body.blocks[0]!.text!.text, body.text);
  assert.equal(body.blocks[1]!.text!.type, 'mrkdwn');
  assert.match(body.blocks[1]!.text!.text, /quota exceeded/);
  assert.equal(body.blocks[3]!.elements![0]!.url, `https://warmpool.example.com/api/v1/presets/${p.presetId}/status`);
});

test('preferences: a user who turned webhooks off is left out of the post; when nobody wants it, the webhook is skipped; the inbox keeps it', async () => {
  const p = await presetWithReceiver('/ok');
  const admin = await addUser(`c-admin-${randomUUID().slice(0, 6)}`, [{ role: 'template-admin', organizationId: p.organizationId }]);
  await db.pool.query(`INSERT INTO notification_preferences (user_id, kind, channel, enabled) VALUES ($1, 'preset-hard-limited', 'webhook', false)`, [users.siteAdmin]);
  try {
    await emit(hardLimited(p.presetId));
    const delivery = await finishedDelivery(p.presetId);
    assert.equal(delivery.status, 'delivered');
    const payload = JSON.parse(postsFor(delivery.id)[0]!.body) as WebhookPayload;
    assert.deepEqual(payload.recipients.map((r) => r.userId).sort(), [users.owner, admin].sort(), 'the site admin opted out');
    const rows = await inboxRows(p.presetId);
    assert.equal(rows.length, 3, 'the inbox keeps it for everyone');
    assert.deepEqual(rows.find((r) => r.username === 'b-site-template-admin'), {
      username: 'b-site-template-admin',
      delivery_status: 'skipped',
      attempts: 0,
      last_error: 'webhook turned off by the recipient for this kind',
    });

    // Everybody opted out: nothing to post.
    const q = await presetWithReceiver('/ok');
    await db.pool.query(
      `INSERT INTO notification_preferences (user_id, kind, channel, enabled) SELECT u, 'preset-hard-limited', 'webhook', false FROM unnest($1::uuid[]) AS u ON CONFLICT DO NOTHING`,
      [[users.owner, admin]],
    );
    await emit(hardLimited(q.presetId));
    const skipped = await finishedDelivery(q.presetId);
    assert.equal(skipped.status, 'skipped');
    assert.equal(skipped.last_error, 'every recipient turned webhooks off for this kind');
    assert.equal(postsFor(skipped.id).length, 0);
  } finally {
    await db.pool.query(`DELETE FROM notification_preferences`);
  }
});

test('a kind an owner disabled site-wide is recorded as skipped on every channel, and still reaches inboxes', async () => {
  const p = await presetWithReceiver('/ok');
  await db.pool.query(`UPDATE organizations SET chat_webhook_url = $2 WHERE id = $1`, [p.organizationId, `${baseUrl}/chat-disabled`]);
  await db.pool.query(`INSERT INTO notification_kind_settings (kind, disabled) VALUES ('preset-hard-limited', true)`);
  try {
    await emit(hardLimited(p.presetId));
    const delivery = await finishedDelivery(p.presetId);
    assert.equal(delivery.status, 'skipped');
    assert.equal(delivery.last_error, 'kind disabled site-wide by an owner');
    assert.equal(postsFor(delivery.id).length, 0);
    const rows = await inboxRows(p.presetId);
    assert.ok(rows.length >= 2);
    assert.ok(rows.every((r) => r.delivery_status === 'skipped' && r.last_error === 'kind disabled site-wide by an owner'));
    const { rows: sends } = await db.pool.query<{ channel: string; status: string; last_error: string }>(`SELECT channel, status, last_error FROM notification_sends WHERE delivery_id = $1`, [delivery.id]);
    assert.deepEqual(sends, [{ channel: 'chat', status: 'skipped', last_error: 'kind disabled site-wide by an owner' }]);
    assert.equal(received.filter((r) => r.path === '/chat-disabled').length, 0);
  } finally {
    await db.pool.query(`DELETE FROM notification_kind_settings`);
  }
});
