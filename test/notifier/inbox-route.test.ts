import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createQueueSet, createRedis, type NotificationEvent, type QueueSet, type RedisClient } from '@warmpool/bus';
import { startNotifier, type Notifier } from '@warmpool/notifier';
import { createLogger } from '@warmpool/runtime';
import { client, startTestApi, userWithRole } from '../support/api.js';
import { testConfig } from '../support/pipeline.js';
import { seedPresets } from '../support/seed.js';
import { waitFor } from '../support/wait.js';

// The inbox as users see it: events go through the real notifier, then are read and marked through the HTTP API.

let env: Awaited<ReturnType<typeof startTestApi>>;
let call: ReturnType<typeof client>;
let notifier: Notifier;
let producer: RedisClient;
let queues: QueueSet;
let presetId: string;
const who = {} as Record<'admin' | 'otherAdmin' | 'member', { userId: string; token: string }>;

type Item = { id: string; kind: string; title: string; labels: Record<string, string>; links: { url: string }[]; deliveryStatus: string; createdAt: string; readAt: string | null };
type Page = { items: Item[]; nextCursor: string | null };

before(async () => {
  env = await startTestApi();
  call = client(env.api.url);
  const [seeded] = await seedPresets(env.db.pool, [{ name: 'inbox-preset' }]);
  presetId = seeded!.presetId;
  who.admin = await userWithRole(env.db.pool, 'template-admin', seeded!.organizationId);
  who.member = await userWithRole(env.db.pool, 'member', seeded!.organizationId);
  const otherOrg = await seedPresets(env.db.pool, [{ name: 'elsewhere' }]);
  who.otherAdmin = await userWithRole(env.db.pool, 'template-admin', otherOrg[0]!.organizationId);
  // No webhook URL anywhere: the notifications are stored in inboxes only ('skipped').
  notifier = await startNotifier({ config: testConfig(env.db.url, env.prefix), logger: createLogger('test', { level: 'silent' }), pool: env.db.pool });
  producer = createRedis(testConfig(env.db.url, env.prefix).redis, { role: 'producer', name: 'inbox-test' });
  queues = createQueueSet(producer, env.prefix);
});

after(async () => {
  await notifier?.close();
  await queues?.close();
  await producer?.quit();
  await env?.stop();
});

async function inbox(token: string, query = ''): Promise<{ status: number; page: Page }> {
  const res = await call('GET', `/api/v1/users/me/notifications${query}`, { token });
  return { status: res.status, page: res.body as unknown as Page };
}

test('notifier events reach the template admin inbox through the API, paged newest first, and can be marked read', async () => {
  const events: NotificationEvent[] = [
    { type: 'preset-hard-limited', presetId, transitionAt: '2026-01-01T10:00:00.000Z', failures: 3, lastError: 'quota exceeded' },
    { type: 'preset-validation-failed', presetId, transitionAt: '2026-01-01T11:00:00.000Z', error: 'missing required parameter "region"' },
  ];
  for (const event of events) await queues.notifications.add(event.type, event, { jobId: randomUUID() });
  await waitFor(async () => ((await inbox(who.admin.token)).page.items.length === 2 ? true : undefined), { what: 'two inbox items' });

  const first = await inbox(who.admin.token, '?limit=1');
  assert.equal(first.status, 200);
  assert.equal(first.page.items.length, 1);
  assert.ok(first.page.nextCursor, 'a second page exists');
  const second = await inbox(who.admin.token, `?limit=1&before=${encodeURIComponent(first.page.nextCursor)}`);
  assert.equal(second.page.items.length, 1);
  assert.equal(second.page.nextCursor, null);
  assert.ok(first.page.items[0]!.createdAt >= second.page.items[0]!.createdAt, 'newest first');
  assert.notEqual(first.page.items[0]!.id, second.page.items[0]!.id);
  const kinds = [first.page.items[0]!, second.page.items[0]!].map((i) => i.kind).sort();
  assert.deepEqual(kinds, ['preset-hard-limited', 'preset-validation-failed']);
  const item = first.page.items[0]!;
  assert.equal(item.labels.preset, 'inbox-preset');
  assert.equal(item.deliveryStatus, 'skipped', 'no webhook configured: inbox only');
  assert.ok(item.links.some((l) => l.url.includes(presetId)), 'links point at the preset status');
  assert.equal(item.readAt, null);

  // Others never see it: a member of the same organization, a template admin of another one.
  assert.deepEqual((await inbox(who.member.token)).page.items, []);
  assert.deepEqual((await inbox(who.otherAdmin.token)).page.items, []);

  // Only the recipient can mark it read; marking twice is fine.
  assert.equal((await call('POST', `/api/v1/users/me/notifications/${item.id}/read`, { token: who.otherAdmin.token })).status, 404);
  for (let i = 0; i < 2; i++) {
    const res = await call('POST', `/api/v1/users/me/notifications/${item.id}/read`, { token: who.admin.token });
    assert.equal(res.status, 200);
    assert.equal(res.body.read, true);
  }
  const after = await inbox(who.admin.token);
  assert.ok(after.page.items.find((i) => i.id === item.id)?.readAt, 'readAt is set');
  assert.equal(after.page.items.find((i) => i.id !== item.id)?.readAt, null, 'the other one stays unread');
});

test('bad inbox queries answer 400 naming the field; unknown ids 404; no token 401', async () => {
  for (const [query, field] of [
    ['?limit=0', 'limit'],
    ['?limit=500', 'limit'],
    ['?before=not-a-cursor', 'before'],
  ] as const) {
    const res = await call('GET', `/api/v1/users/me/notifications${query}`, { token: who.admin.token });
    assert.equal(res.status, 400, query);
    assert.ok(JSON.stringify(res.body).includes(field), `${query} names ${field}`);
  }
  assert.equal((await call('POST', `/api/v1/users/me/notifications/${randomUUID()}/read`, { token: who.admin.token })).status, 404);
  assert.equal((await call('POST', '/api/v1/users/me/notifications/not-a-uuid/read', { token: who.admin.token })).status, 400);
  assert.equal((await call('GET', '/api/v1/users/me/notifications')).status, 401);
});
