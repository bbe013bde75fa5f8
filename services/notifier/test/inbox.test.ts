import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { listNotifications, markNotificationRead, NotificationQueryError } from '@warmpool/db';
import { createTestDatabase, type TestDatabase } from '../../../test/support/env.js';

let db: TestDatabase;
let alice: string;
let bob: string;
const ids: string[] = [];

before(async () => {
  db = await createTestDatabase();
  const { rows } = await db.pool.query<{ id: string }>(`INSERT INTO users (username) VALUES ('alice'), ('bob') RETURNING id`);
  [alice, bob] = [rows[0]!.id, rows[1]!.id];
  // Five notifications for alice, two of them in the same instant (ties broken by id), two within one
  // millisecond (the cursor must keep microseconds), one for bob.
  const at = ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00.000100Z', '2026-01-02T00:00:00.000200Z', '2026-01-03T00:00:00Z', '2026-01-03T00:00:00Z'];
  for (const [i, createdAt] of at.entries()) {
    const r = await db.pool.query<{ id: string }>(
      `INSERT INTO notifications (user_id, kind, title, body, dedup_key, created_at) VALUES ($1, 'k', $2, 'b', $3, $4) RETURNING id`,
      [alice, `n${i}`, `key-${i}`, createdAt],
    );
    ids.push(r.rows[0]!.id);
  }
  await db.pool.query(`INSERT INTO notifications (user_id, kind, title, body, dedup_key) VALUES ($1, 'k', 'bob', 'b', 'x')`, [bob]);
});

after(async () => {
  await db?.drop();
});

test('the inbox pages newest first with an opaque cursor and covers every row exactly once', async () => {
  // Every page size puts a page break somewhere else, including between the two rows within one millisecond.
  for (let limit = 1; limit <= 5; limit++) {
    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    do {
      const page = await listNotifications(db.pool, alice, { limit, before });
      seen.push(...page.items.map((i) => i.id));
      before = page.nextCursor ?? undefined;
      pages++;
    } while (before);
    assert.equal(pages, Math.ceil(5 / limit), `pages of ${limit}`);
    assert.equal(seen.length, 5, `no row repeated with pages of ${limit}`);
    assert.deepEqual([...seen].sort(), [...ids].sort());
  }
  const first = await listNotifications(db.pool, alice, { limit: 1 });
  assert.ok(['n3', 'n4'].includes(first.items[0]!.title));
  assert.equal(first.items[0]!.deliveryStatus, 'pending');
  assert.equal(first.items[0]!.readAt, null);
  assert.equal((await listNotifications(db.pool, alice, { limit: 5 })).nextCursor, null, 'no cursor when nothing follows');
  const rest = await listNotifications(db.pool, alice, { limit: 100, before: (await listNotifications(db.pool, alice, { limit: 4 })).nextCursor ?? 'missing' });
  assert.deepEqual(rest.items.map((i) => i.title), ['n0']);
});

test('bad limits and cursors are rejected naming the field', async () => {
  await assert.rejects(listNotifications(db.pool, alice, { limit: 0 }), (err: unknown) => err instanceof NotificationQueryError && err.field === 'limit');
  await assert.rejects(listNotifications(db.pool, alice, { limit: 101 }), NotificationQueryError);
  await assert.rejects(listNotifications(db.pool, alice, { limit: 5, before: 'garbage' }), (err: unknown) => err instanceof NotificationQueryError && err.field === 'before');
});

test('marking read works for the owner only and is idempotent', async () => {
  const id = ids[0]!;
  assert.equal(await markNotificationRead(db.pool, bob, id), false);
  assert.equal(await markNotificationRead(db.pool, alice, 'not-a-uuid'), false);
  assert.equal(await markNotificationRead(db.pool, alice, id), true);
  const { rows } = await db.pool.query<{ read_at: Date }>(`SELECT read_at FROM notifications WHERE id = $1`, [id]);
  assert.equal(await markNotificationRead(db.pool, alice, id), true);
  const again = await db.pool.query<{ read_at: Date }>(`SELECT read_at FROM notifications WHERE id = $1`, [id]);
  assert.deepEqual(again.rows[0]!.read_at, rows[0]!.read_at, 'the first read time is kept');
  const page = await listNotifications(db.pool, alice, { limit: 5 });
  assert.ok(page.items.find((i) => i.id === id)?.readAt);
});
