// One contract for NotificationStore, run against every backend: SQLite (a temp file) and
// PostgreSQL (a fresh database on HERALD_TEST_PG_URL).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HeraldError } from '../../src/errors.js';
import { toPublishRequest } from '../../src/ingest/publish-request.js';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.js';
import type { Audience, InboxQuery, NotificationStore } from '../../src/store/store.js';
import { backends, type Backend } from './backends.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };

/** The raw response column of an idempotency key (through the store's own database handle). */
async function storedIdempotencyResponse(store: NotificationStore, publisher: string, key: string): Promise<string> {
  const db = (store as unknown as { db: Kysely<Database> }).db;
  const row = await db.selectFrom('idempotency_keys').select('response').where('publisher', '=', publisher).where('key', '=', key).executeTakeFirstOrThrow();
  return row.response;
}

/** Transactions the store's publish path has committed so far. */
function publishTransactions(store: NotificationStore): number {
  return (store as unknown as { publishTransactions: number }).publishTransactions;
}

/** Every stored row of a topic as [seq, id], in sequence order. */
async function storedRows(store: NotificationStore, topic: string): Promise<Array<[number, string]>> {
  const db = (store as unknown as { db: Kysely<Database> }).db;
  const rows = await db.selectFrom('notifications').select(['seq', 'id']).where('topic', '=', topic).orderBy('seq').execute();
  return rows.map((row) => [Number(row.seq), row.id]);
}

function isConflict(err: unknown): boolean {
  return err instanceof HeraldError && err.code === 'idempotency_conflict';
}

function request(body: Record<string, unknown>, publisher = 'app') {
  return toPublishRequest({ type: 'alert', content: 'hello', ...body }, publisher, LIMITS);
}

function audience(user: string, ...extra: string[]): Audience {
  return { user, topics: [`user:${user}`, 'broadcast', ...extra] };
}

const ALL: InboxQuery = { status: 'all', type: null, archived: false, limit: 50, before: null };

for (const backend of backends) {
  describe(`NotificationStore on ${backend.name}`, () => {
    test('publish assigns each topic contiguous sequence numbers from 1', async (t) => {
      const store = await backend.open(t);
      const a = await store.publish(request({ recipients: ['alice', 'bob'] }));
      const b = await store.publish(request({ recipients: ['alice'] }));
      const c = await store.publish(request({ topic: 'broadcast' }));
      assert.deepEqual(a.events.map((e) => [e.topic, e.seq]), [['user:alice', 1], ['user:bob', 1]]);
      assert.deepEqual(b.events.map((e) => [e.topic, e.seq]), [['user:alice', 2]]);
      assert.deepEqual(c.events.map((e) => [e.topic, e.seq]), [['broadcast', 1]]);
      assert.equal(c.events[0]?.notification.recipient, null);
      assert.equal(c.events[0]?.notification.topic, 'broadcast');
      assert.equal(a.replayed, false);
      assert.match(store.epoch, /^[0-9a-z]{6}$/);
    });

    test('notification ids sort in the order they were stored, within a publish and across publishes', async (t) => {
      const store = await backend.open(t);
      const first = await store.publish(request({ recipients: Array.from({ length: 300 }, (_, i) => `u${i}`) }));
      const second = await store.publish(request({ recipients: ['alice'] }));
      const ids = [...first.events, ...second.events].map((e) => e.notification.id);
      // Text order, as the id index sorts them: new ids go to its end, not to random pages.
      assert.deepEqual([...ids].sort(), ids);
      assert.equal(new Set(ids).size, ids.length);
    });

    test('the same idempotency key and body replays the first answer; another body is a conflict', async (t) => {
      const store = await backend.open(t);
      const first = await store.publish(request({ recipients: ['alice'], idempotency_key: 'k1' }));
      const again = await store.publish(request({ recipients: ['alice'], idempotency_key: 'k1' }));
      assert.equal(again.replayed, true);
      assert.deepEqual(again.events, first.events);
      await assert.rejects(store.publish(request({ recipients: ['alice'], idempotency_key: 'k1', content: 'other' })),
        (err: unknown) => err instanceof HeraldError && err.code === 'idempotency_conflict');
      // Keys are scoped by publisher: another publisher's k1 is a new notification.
      const other = await store.publish(request({ recipients: ['alice'], idempotency_key: 'k1' }, 'other-app'));
      assert.equal(other.replayed, false);
      assert.equal(other.events[0]?.seq, 2);
      assert.equal((await store.heads(['user:alice'])).get('user:alice'), 2);
    });

    test('concurrent publishes with one idempotency key store one notification', async (t) => {
      const store = await backend.open(t);
      const results = await Promise.all(Array.from({ length: 8 }, () => store.publish(request({ recipients: ['alice'], idempotency_key: 'same' }))));
      assert.equal(results.filter((r) => !r.replayed).length, 1);
      assert.equal(new Set(results.map((r) => r.events[0]?.notification.id)).size, 1);
      assert.equal((await store.eventsAfter('user:alice', 0, 100)).length, 1);
    });

    test('eventsAfter returns the events after a sequence, in order, bounded by limit', async (t) => {
      const store = await backend.open(t);
      for (let i = 1; i <= 5; i++) await store.publish(request({ recipients: ['alice'], content: `n${i}`, data: { i } }));
      const after2 = await store.eventsAfter('user:alice', 2, 2);
      assert.deepEqual(after2.map((e) => [e.seq, e.notification.content, e.notification.data]), [[3, 'n3', { i: 3 }], [4, 'n4', { i: 4 }]]);
      assert.deepEqual(await store.eventsAfter('user:alice', 5, 10), []);
      assert.deepEqual(await store.eventsAfter('user:nobody', 0, 10), []);
    });

    test('heads are 0 for unknown topics and the last sequence otherwise', async (t) => {
      const store = await backend.open(t);
      await store.publish(request({ recipients: ['alice'] }));
      await store.publish(request({ recipients: ['alice'] }));
      const heads = await store.heads(['user:alice', 'user:bob', 'broadcast']);
      assert.deepEqual([...heads], [['user:alice', 2], ['user:bob', 0], ['broadcast', 0]]);
      assert.deepEqual([...await store.heads([])], []);
    });

    test('a database a newer version migrated (a migration this version does not know) still starts: migrate() leaves it as it is', async (t) => {
      const store = await backend.open(t);
      const db = (store as unknown as { db: Kysely<Database> }).db;
      await sql`insert into herald_migrations (name, timestamp) values ('9999_from_a_newer_version', '2026-12-04T00:00:00.000Z')`.execute(db);
      await store.migrate();
      assert.equal((await store.publish(request({ recipients: ['alice'] }))).events.length, 1);
    });

    test('heads of 70,000 topics (past SQLite\'s 32,766 and PostgreSQL\'s 65,535 bound parameters) are read in pages', async (t) => {
      const store = await backend.open(t);
      await store.publish(request({ recipients: ['u69999'] }));
      const topics = Array.from({ length: 70_000 }, (_, i) => `user:u${i}`);
      const heads = await store.heads(topics);
      assert.equal(heads.size, 70_000);
      assert.equal(heads.get('user:u69999'), 1);
      assert.equal(heads.get('user:u0'), 0);
    });

    test('unreadSnapshot counts unread, unarchived notifications of the audience with its heads', async (t) => {
      const store = await backend.open(t);
      const [one] = (await store.publish(request({ recipients: ['alice'] }))).events;
      const [two] = (await store.publish(request({ recipients: ['alice'] }))).events;
      await store.publish(request({ topic: 'broadcast' }));
      await store.publish(request({ topic: 'group:ops' }));
      await store.publish(request({ recipients: ['bob'] }));
      assert.ok(one && two);
      await store.updateState(audience('alice'), one.notification.id, { status: 'read' });
      await store.updateState(audience('alice'), two.notification.id, { archived: true });
      const snap = await store.unreadSnapshot(audience('alice'));
      assert.equal(snap.unread, 1); // the broadcast
      assert.deepEqual([...snap.heads], [['user:alice', 2], ['broadcast', 1]]);
      assert.equal((await store.unreadSnapshot(audience('alice', 'group:ops'))).unread, 2);
      assert.equal((await store.unreadSnapshot(audience('bob'))).unread, 2);
    });

    test('the unread count from the index (a reader without mutes) equals the row-by-row count (a reader with mutes that match nothing)', async (t) => {
      const store = await backend.open(t);
      const broadcasts = [];
      for (let i = 0; i < 3; i++) broadcasts.push((await store.publish(request({ topic: 'broadcast' }))).events[0]?.notification.id as string);
      const mine = [];
      for (let i = 0; i < 2; i++) mine.push((await store.publish(request({ recipients: ['alice'] }))).events[0]?.notification.id as string);
      await store.publish(request({ recipients: ['bob'] }));
      await store.updateState(audience('alice'), broadcasts[0] as string, { status: 'read' });
      await store.updateState(audience('alice'), broadcasts[1] as string, { archived: true });
      await store.updateState(audience('alice'), mine[0] as string, { snoozedUntil: new Date(Date.now() + 3_600_000).toISOString() });
      // Bob's receipts are not Alice's.
      await store.updateState(audience('bob'), broadcasts[2] as string, { status: 'read' });
      const fromIndex = (await store.unreadSnapshot(audience('alice'))).unread;
      await store.setMutedTypes('alice', ['promo']);
      const rowByRow = (await store.unreadSnapshot(audience('alice'))).unread;
      assert.equal(fromIndex, 2); // the third broadcast and Alice's second notification
      assert.equal(rowByRow, fromIndex);
    });

    test('listInbox filters by status and type and pages newest first', async (t) => {
      const store = await backend.open(t);
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const res = await store.publish(request({ recipients: ['alice'], type: i % 2 ? 'comment.mention' : 'alert', content: `n${i}` }));
        ids.push(res.events[0]?.notification.id as string);
      }
      await store.publish(request({ recipients: ['bob'], content: 'not yours' }));
      await store.updateState(audience('alice'), ids[0] as string, { status: 'read' });
      await store.updateState(audience('alice'), ids[1] as string, { archived: true });

      const page1 = await store.listInbox(audience('alice'), { ...ALL, limit: 3 });
      assert.deepEqual(page1.items.map((n) => n.content), ['n6', 'n5', 'n4']);
      assert.notEqual(page1.nextBefore, null);
      const page2 = await store.listInbox(audience('alice'), { ...ALL, limit: 3, before: page1.nextBefore });
      assert.deepEqual(page2.items.map((n) => n.content), ['n3', 'n2', 'n0']);
      assert.equal(page2.nextBefore, null);

      const unread = await store.listInbox(audience('alice'), { ...ALL, status: 'unread' });
      assert.deepEqual(unread.items.map((n) => n.content), ['n6', 'n5', 'n4', 'n3', 'n2']);
      const read = await store.listInbox(audience('alice'), { ...ALL, status: 'read' });
      assert.deepEqual(read.items.map((n) => [n.content, n.status]), [['n0', 'read']]);
      assert.ok(read.items[0]?.read_at && read.items[0].seen_at);
      const mentions = await store.listInbox(audience('alice'), { ...ALL, type: 'comment.mention' });
      assert.deepEqual(mentions.items.map((n) => n.content), ['n5', 'n3']);
      const archived = await store.listInbox(audience('alice'), { ...ALL, archived: true });
      assert.deepEqual(archived.items.map((n) => n.content), ['n1']);
      assert.ok(archived.items[0]?.archived_at);
    });

    test("updateState changes only the caller's view, and never another user's notification", async (t) => {
      const store = await backend.open(t);
      const [mine] = (await store.publish(request({ recipients: ['alice'] }))).events;
      const [shared] = (await store.publish(request({ topic: 'broadcast' }))).events;
      assert.ok(mine && shared);
      assert.equal(await store.updateState(audience('bob'), mine.notification.id, { status: 'read' }), null);
      assert.equal(await store.updateState(audience('alice'), 'no-such-id', { status: 'read' }), null);
      const updated = await store.updateState(audience('alice'), shared.notification.id, { status: 'read' });
      assert.equal(updated?.status, 'read');
      assert.equal((await store.unreadSnapshot(audience('alice'))).unread, 1);
      assert.equal((await store.unreadSnapshot(audience('bob'))).unread, 1);
      const back = await store.updateState(audience('alice'), shared.notification.id, { status: 'unread' });
      assert.equal(back?.status, 'unread');
      assert.equal(back?.read_at, null);
      assert.ok(back?.seen_at, 'seen stays set');
      const [bobsView] = (await store.listInbox(audience('bob'), ALL)).items.filter((n) => n.id === shared.notification.id);
      assert.equal(bobsView?.status, 'unread');
      assert.equal(bobsView?.seen_at, null);
    });

    test('markAll marks everything, or only up to a given id, for the caller only', async (t) => {
      const store = await backend.open(t);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await store.publish(request({ recipients: ['alice'] }))).events[0]?.notification.id as string);
      await store.publish(request({ topic: 'broadcast' }));
      assert.equal(await store.markAll(audience('alice'), 'read', ids[1] as string), 2);
      assert.equal((await store.unreadSnapshot(audience('alice'))).unread, 3);
      assert.equal(await store.markAll(audience('alice'), 'seen', null), 3);
      assert.equal((await store.unreadSnapshot(audience('alice'))).unread, 3, 'seeing is not reading');
      assert.equal(await store.markAll(audience('alice'), 'read', null), 3);
      assert.equal(await store.markAll(audience('alice'), 'read', null), 0);
      assert.equal((await store.unreadSnapshot(audience('alice'))).unread, 0);
      assert.equal((await store.unreadSnapshot(audience('bob'))).unread, 1);
      await assert.rejects(store.markAll(audience('bob'), 'read', ids[0] as string),
        (err: unknown) => err instanceof HeraldError && err.code === 'not_found');
    });

    test('concurrent publishers get gap-free sequences, and sequence order is commit order', async (t) => {
      const store = await backend.open(t);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        store.publish(request({ recipients: i % 2 ? ['alice', 'bob'] : ['bob', 'alice'], content: `c${i}` }))));
      for (const topic of ['user:alice', 'user:bob']) {
        const seqs = results.flatMap((r) => r.events.filter((e) => e.topic === topic).map((e) => e.seq)).sort((a, b) => a - b);
        assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i + 1), topic);
        const stored = await store.eventsAfter(topic, 0, 100);
        assert.deepEqual(stored.map((e) => e.seq), seqs);
      }
      // A reader that sees sequence n also sees every sequence below n.
      const writers = Promise.all(Array.from({ length: 20 }, () => store.publish(request({ recipients: ['carol'] }))));
      for (let i = 0; i < 50; i++) {
        const head = (await store.heads(['user:carol'])).get('user:carol') ?? 0;
        const events = await store.eventsAfter('user:carol', 0, 100);
        assert.ok(events.length >= head, `head ${head} visible but only ${events.length} rows`);
      }
      await writers;
      assert.equal((await store.eventsAfter('user:carol', 0, 100)).length, 20);
    });

    test('redeemOnce accepts an id once, until and after it expires', async (t) => {
      const store = await backend.open(t);
      const later = Date.now() + 60_000;
      assert.equal(await store.redeemOnce('ticket-1', later), true);
      assert.equal(await store.redeemOnce('ticket-1', later), false);
      assert.equal(await store.redeemOnce('ticket-2', later), true);
      const results = await Promise.all(Array.from({ length: 10 }, () => store.redeemOnce('ticket-3', later)));
      assert.equal(results.filter(Boolean).length, 1, 'concurrent redemptions: exactly one wins');
    });

    test('ping answers while the database is reachable', async (t) => {
      const store = await backend.open(t);
      await store.ping();
    });

    test('concurrent read and archive of the same notifications both stick (no lost update)', async (t) => {
      const store = await backend.open(t);
      const { events } = await store.publish(request({ recipients: Array.from({ length: 1 }, () => 'alice') }));
      const ids: string[] = [events[0]?.notification.id as string];
      for (let i = 0; i < 39; i++) ids.push((await store.publish(request({ recipients: ['alice'] }))).events[0]?.notification.id as string);
      await Promise.all(ids.flatMap((id) => [
        store.updateState(audience('alice'), id, { status: 'read' }),
        store.updateState(audience('alice'), id, { archived: true }),
      ]));
      const archived = await store.listInbox(audience('alice'), { ...ALL, archived: true, limit: 100 });
      assert.equal(archived.items.length, 40);
      assert.deepEqual(archived.items.filter((n) => n.read_at === null).map((n) => n.id), [], 'every archived item is also read');
    });

    test('updateState answers the row as written: unread clears read_at, archive keeps the read state', async (t) => {
      const store = await backend.open(t);
      const id = (await store.publish(request({ recipients: ['alice'] }))).events[0]?.notification.id as string;
      const read = await store.updateState(audience('alice'), id, { status: 'read' });
      assert.equal(read?.status, 'read');
      const archived = await store.updateState(audience('alice'), id, { archived: true });
      assert.equal(archived?.read_at, read?.read_at);
      assert.notEqual(archived?.archived_at, null);
      const unread = await store.updateState(audience('alice'), id, { status: 'unread' });
      assert.deepEqual([unread?.status, unread?.read_at, unread?.archived_at], ['unread', null, archived?.archived_at]);
      assert.equal(await store.updateState(audience('bob'), id, { status: 'read' }), null);
    });

    test('eventsAfter with a reader carries that reader\'s state; without one, as created', async (t) => {
      const store = await backend.open(t);
      const { events } = await store.publish(request({ topic: 'broadcast' }));
      const id = events[0]?.notification.id as string;
      await store.updateState(audience('alice'), id, { status: 'read' });
      assert.equal((await store.eventsAfter('broadcast', 0, 10, 'alice'))[0]?.notification.status, 'read');
      assert.equal((await store.eventsAfter('broadcast', 0, 10, 'bob'))[0]?.notification.status, 'unread');
      assert.equal((await store.eventsAfter('broadcast', 0, 10))[0]?.notification.status, 'unread');
    });

    test('idsAt answers the ids at given positions and leaves out positions with no row', async (t) => {
      const store = await backend.open(t);
      const a = await store.publish(request({ recipients: ['alice'] }));
      const b = await store.publish(request({ recipients: ['alice', 'bob'] }));
      const ids = await store.idsAt([['user:alice', 1], ['user:alice', 2], ['user:bob', 1], ['user:bob', 9]]);
      assert.deepEqual([...ids].sort(), [
        ['user:alice\n1', a.events[0]?.notification.id],
        ['user:alice\n2', b.events[0]?.notification.id],
        ['user:bob\n1', b.events[1]?.notification.id],
      ].sort());
    });

    test('an idempotency key keeps only ids, and its replay answers exactly the first answer', async (t) => {
      const store = await backend.open(t);
      const recipients = Array.from({ length: 200 }, (_, i) => `user-${i}`);
      const body = { recipients, content: 'c'.repeat(20_000), data: { big: 'd'.repeat(10_000) }, idempotency_key: 'bulk' };
      const first = await store.publish(request(body));
      const again = await store.publish(request(body));
      assert.equal(again.replayed, true);
      assert.deepEqual(again.events, first.events);
      const stored = await storedIdempotencyResponse(store, 'app', 'bulk');
      assert.ok(stored.length < recipients.length * 48, `stored ${stored.length} bytes for ${recipients.length} notifications`);
    });
    test('publishes that arrive during a commit share the next one; a conflicting one fails alone', async (t) => {
      const store = await backend.open(t);
      await store.publish(request({ recipients: ['alice'], idempotency_key: 'taken' }));
      const before = publishTransactions(store);
      // The first commits at once (or joins a commit still finishing); the ones behind it share the next.
      const [lone, fresh, conflict, plain, replay] = await Promise.allSettled([
        store.publish(request({ recipients: ['alice'] })),
        store.publish(request({ recipients: ['alice', 'bob'], idempotency_key: 'fresh' })),
        store.publish(request({ recipients: ['alice'], idempotency_key: 'taken', content: 'another body' })),
        store.publish(request({ topic: 'broadcast' })),
        store.publish(request({ recipients: ['alice'], idempotency_key: 'taken' })),
      ]);
      assert.ok(publishTransactions(store) - before <= 2, `${publishTransactions(store) - before} transactions for 5 publishes`);
      assert.equal(conflict?.status, 'rejected');
      assert.ok(conflict.status === 'rejected' && isConflict(conflict.reason), String(conflict.status === 'rejected' && conflict.reason));
      assert.ok(lone?.status === 'fulfilled' && fresh?.status === 'fulfilled' && plain?.status === 'fulfilled' && replay?.status === 'fulfilled');
      assert.deepEqual(lone.value.events.map((e) => [e.topic, e.seq]), [['user:alice', 2]]);
      assert.deepEqual(fresh.value.events.map((e) => [e.topic, e.seq]), [['user:alice', 3], ['user:bob', 1]]);
      assert.deepEqual(plain.value.events.map((e) => [e.topic, e.seq]), [['broadcast', 1]]);
      assert.deepEqual([replay.value.replayed, replay.value.events.map((e) => [e.topic, e.seq])], [true, [['user:alice', 1]]]);
      assert.deepEqual((await storedRows(store, 'user:alice')).map(([seq]) => seq), [1, 2, 3]);
      await assert.rejects(store.publish(request({ recipients: ['bob'], idempotency_key: 'fresh' })), isConflict, 'the key committed with its batch');
    });

    test('within one transaction, a key used again replays its first use, or conflicts with another body', async (t) => {
      const store = await backend.open(t);
      const before = publishTransactions(store);
      const [, first, same, other] = await Promise.allSettled([
        store.publish(request({ topic: 'broadcast' })),
        store.publish(request({ recipients: ['alice'], idempotency_key: 'k' })),
        store.publish(request({ recipients: ['alice'], idempotency_key: 'k' })),
        store.publish(request({ recipients: ['alice'], idempotency_key: 'k', content: 'other' })),
      ]);
      assert.ok(publishTransactions(store) - before <= 2, `${publishTransactions(store) - before} transactions for 4 publishes`);
      assert.ok(first?.status === 'fulfilled' && same?.status === 'fulfilled');
      assert.equal(first.value.replayed, false);
      assert.equal(same.value.replayed, true);
      assert.deepEqual(same.value.events.map((e) => e.notification.id), first.value.events.map((e) => e.notification.id));
      assert.ok(other?.status === 'rejected' && isConflict(other.reason));
      assert.equal((await storedRows(store, 'user:alice')).length, 1);
    });

    test('concurrent publishes to overlapping topics leave every topic gap-free, each number on its own row', async (t) => {
      const store = await backend.open(t);
      const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
      // Overlapping recipient sets in varying order, shared topics, and conflicts among them.
      await store.publish(request({ recipients: ['u0'], idempotency_key: 'used' }));
      const settled = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => {
        if (i % 10 === 7) return store.publish(request({ recipients: ['u0'], idempotency_key: 'used', content: `conflict ${i}` }));
        if (i % 4 === 3) return store.publish(request({ topic: i % 8 === 3 ? 'broadcast' : 'group:ops', content: `shared ${i}` }));
        const recipients = users.filter((_, u) => (i + u) % 3 !== 0);
        return store.publish(request({ recipients: i % 2 ? recipients.reverse() : recipients, content: `c${i}` }));
      }));
      assert.equal(settled.filter((s) => s.status === 'rejected' && isConflict(s.reason)).length, 6);
      const events = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value.events : []));
      for (const topic of [...users.map((u) => `user:${u}`), 'broadcast', 'group:ops']) {
        const answered = events.filter((e) => e.topic === topic).map((e): [number, string] => [e.seq, e.notification.id]);
        const expected = answered.length + (topic === 'user:u0' ? 1 : 0);
        const stored = await storedRows(store, topic);
        assert.deepEqual(stored.map(([seq]) => seq), Array.from({ length: expected }, (_, i) => i + 1), `${topic} is gap-free`);
        assert.deepEqual(answered.sort((a, b) => a[0] - b[0]), stored.slice(expected - answered.length), `${topic}: each answer names its row`);
        assert.equal((await store.heads([topic])).get(topic), expected);
      }
    });

    test('a transaction holds at most 256 publishes: 600 concurrent ones take at least 3', async (t) => {
      const store = await backend.open(t);
      const before = publishTransactions(store);
      const results = await Promise.all(Array.from({ length: 600 }, (_, i) => store.publish(request({ recipients: [`u${i % 7}`] }))));
      assert.equal(results.length, 600);
      assert.ok(publishTransactions(store) - before >= 3, `${publishTransactions(store) - before} transactions`);
      assert.equal((await storedRows(store, 'user:u0')).length, 86);
    });

    test('a transaction holds at most 4000 notifications, except one publish alone', async (t) => {
      const store = await backend.open(t);
      const recipients = Array.from({ length: 1000 }, (_, i) => `member-${i}`);
      const before = publishTransactions(store);
      await Promise.all(Array.from({ length: 5 }, () => store.publish(request({ recipients }))));
      assert.ok(publishTransactions(store) - before >= 2, `${publishTransactions(store) - before} transactions`);
      assert.deepEqual((await storedRows(store, 'user:member-999')).map(([seq]) => seq), [1, 2, 3, 4, 5]);
    });

    test('close answers the publishes already accepted, and a publish after it fails instead of waiting', async (t) => {
      const store = await backend.open(t);
      const accepted = Array.from({ length: 20 }, (_, i) => store.publish(request({ recipients: ['alice'], content: `c${i}` })));
      await store.close();
      assert.equal((await Promise.all(accepted)).length, 20);
      await assert.rejects(store.publish(request({ recipients: ['alice'] })));
    });

    test('a publish to 1000 recipients stores one row per recipient at the next number of each topic', async (t) => {
      const store = await backend.open(t);
      const recipients = Array.from({ length: 1000 }, (_, i) => `member-${i}`);
      // Some topics already have a head; the rest start at 1.
      for (let i = 0; i < 3; i++) await store.publish(request({ recipients: recipients.slice(0, 10 * (i + 1)) }));
      const { events } = await store.publish(request({ recipients, content: 'to everyone', data: { n: 1 } }));
      assert.deepEqual(events.map((e) => e.notification.recipient), recipients);
      const expectedSeq = (i: number) => (i < 10 ? 4 : i < 20 ? 3 : i < 30 ? 2 : 1);
      assert.deepEqual(events.map((e) => e.seq), recipients.map((_, i) => expectedSeq(i)));
      const db = (store as unknown as { db: Kysely<Database> }).db;
      const rows = await db.selectFrom('notifications').select(['id', 'topic', 'seq', 'recipient', 'content', 'data'])
        .where('content', '=', 'to everyone').orderBy('pk').execute();
      assert.deepEqual(rows.map((r) => [r.id, r.topic, Number(r.seq), r.recipient]),
        events.map((e) => [e.notification.id, e.topic, e.seq, e.notification.recipient]));
      assert.ok(rows.every((r) => r.data === '{"n":1}'));
      const heads = await store.heads(recipients.map((r) => `user:${r}`));
      assert.deepEqual([...heads.values()], recipients.map((_, i) => expectedSeq(i)));
    });

    test('publishes sharing a transaction each keep their own content on every row, read back as answered', async (t) => {
      const store = await backend.open(t);
      const before = publishTransactions(store);
      const results = await Promise.all([
        store.publish(request({ recipients: ['alice', 'bob'], type: 'a.one', title: 'One', content: 'first', data: { n: 1 } })),
        store.publish(request({ recipients: ['alice', 'bob'], type: 'a.two', content: 'second', critical: true, expires_at: new Date(Date.now() + 86_400_000).toISOString() })),
        store.publish(request({ topic: 'broadcast', content: 'third' })),
        store.publish(request({ recipients: ['bob'], content: 'fourth', data: { n: 4 } })),
      ]);
      assert.ok(publishTransactions(store) - before <= 2, `${publishTransactions(store) - before} transactions for 4 publishes`);
      const answered = results.flatMap((r) => r.events);
      const read = await Promise.all(answered.map(async (e) => (await store.eventsAfter(e.topic, e.seq - 1, 1))[0]));
      assert.deepEqual(read.map((e) => e?.notification), answered.map((e) => e.notification));
      assert.deepEqual(read.map((e) => e?.critical), answered.map((e) => e.notification.content === 'second'));
    });
  });
}

test('PostgreSQL: a publish whose text PostgreSQL refuses fails alone with invalid_request; its batch commits', async (t) => {
  const store = await (backends.find((b) => b.name === 'postgres') as Backend).open(t);
  const [, before, bad, after] = await Promise.allSettled([
    store.publish(request({ topic: 'broadcast' })),
    store.publish(request({ recipients: ['alice'] })),
    store.publish(request({ recipients: ['alice'], content: 'nul \0 inside' })),
    store.publish(request({ recipients: ['alice'] })),
  ]);
  assert.ok(bad?.status === 'rejected' && bad.reason instanceof HeraldError && bad.reason.code === 'invalid_request', String(bad?.status === 'rejected' && bad.reason));
  assert.ok(before?.status === 'fulfilled' && after?.status === 'fulfilled');
  assert.deepEqual([before.value.events[0]?.seq, after.value.events[0]?.seq], [1, 2]);
  assert.deepEqual((await storedRows(store, 'user:alice')).map(([seq]) => seq), [1, 2]);
});
