// The store's side of scheduled delivery, expiry and snooze, run against every backend.
// Each store reads "now" from a clock the test sets, as the hub's clock drives it in Herald.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { randomBytes } from 'node:crypto';
import { HeraldError } from '../../src/errors.js';
import { toPublishRequest } from '../../src/ingest/publish-request.js';
import type { KyselyNotificationStore } from '../../src/store/kysely-store.js';
import { openStore } from '../../src/store/open-store.js';
import type { Database } from '../../src/store/schema.js';
import type { Audience, InboxQuery, NotificationStore } from '../../src/store/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { createPgDatabase, lockServices } from '../helpers/services.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };
const START = Date.parse('2026-06-01T12:00:00.000Z');

/** The ISO time `offsetMs` from the clock's now. */
function isoAt(clock: ManualClock, offsetMs = 0): string {
  return new Date(clock.now() + offsetMs).toISOString();
}

interface Opened {
  store: NotificationStore;
  clock: ManualClock;
  /** Another store on the same database (another node), with the same clock. */
  another(): Promise<NotificationStore>;
}

interface Backend {
  name: string;
  open(t: TestContext): Promise<Opened>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async open(t) {
      const dir = mkdtempSync(join(tmpdir(), 'herald-timed-'));
      const clock = new ManualClock(START);
      const store = await openStore(join(dir, 'herald.db'), { clock });
      t.after(async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      });
      await store.migrate();
      return { store, clock, another: () => Promise.reject(new Error('SQLite is one process')) };
    },
  },
  {
    name: 'postgres',
    async open(t) {
      await lockServices(t);
      const db = await createPgDatabase();
      const clock = new ManualClock(START);
      const store = await openStore(db.url, { clock });
      const others: NotificationStore[] = [];
      t.after(async () => {
        for (const other of others) await other.close();
        await store.close();
        await db.drop();
      });
      await store.migrate();
      return {
        store, clock,
        async another() {
          const other = await openStore(db.url, { clock });
          others.push(other);
          await other.migrate();
          return other;
        },
      };
    },
  },
];

/** Bytes the database takes on disk (SQLite: its pages; PostgreSQL: the database's files). */
async function databaseBytes(db: Kysely<Database>, backend: string): Promise<number> {
  if (backend === 'postgres') {
    await sql`checkpoint`.execute(db).catch(() => {});
    return Number((await sql<{ n: string }>`select pg_database_size(current_database()) as n`.execute(db)).rows[0]?.n);
  }
  const pages = (await sql<{ page_count: number }>`pragma page_count`.execute(db)).rows[0]?.page_count ?? 0;
  const free = (await sql<{ freelist_count: number }>`pragma freelist_count`.execute(db)).rows[0]?.freelist_count ?? 0;
  const size = (await sql<{ page_size: number }>`pragma page_size`.execute(db)).rows[0]?.page_size ?? 0;
  return (pages - free) * size;
}

function request(clock: ManualClock, body: Record<string, unknown>, publisher = 'app') {
  return toPublishRequest({ type: 'alert', content: 'hello', ...body }, publisher, LIMITS, clock.now());
}

function alice(): Audience {
  return { user: 'alice', topics: ['user:alice', 'broadcast'] };
}

const ALL: InboxQuery = { status: 'all', type: null, archived: false, limit: 50, before: null };

async function listed(store: NotificationStore, query: Partial<InboxQuery> = {}): Promise<string[]> {
  return (await store.listInbox(alice(), { ...ALL, ...query })).items.map((n) => n.content);
}

async function unread(store: NotificationStore): Promise<number> {
  return (await store.unreadSnapshot(alice())).unread;
}

for (const backend of backends) {
  describe(`timed NotificationStore on ${backend.name}`, () => {
    test('a scheduled publish is not listed, counted or in its topic until delivered', async (t) => {
      const { store, clock } = await backend.open(t);
      const result = await store.publish(request(clock, { recipients: ['alice'], content: 'later', deliver_at: isoAt(clock, 60_000) }));
      assert.deepEqual(result.events, []);
      assert.equal(result.scheduled?.[0]?.deliver_at, isoAt(clock, 60_000));
      assert.deepEqual(await listed(store), []);
      assert.equal(await unread(store), 0);
      assert.equal((await store.heads(['user:alice'])).get('user:alice'), 0);
      assert.equal(await store.nextDueAt(), isoAt(clock, 60_000));
    });

    test('a scheduled publish to many recipients stores its content once, and each recipient still gets it whole', async (t) => {
      const { store, clock } = await backend.open(t);
      const db = (store as KyselyNotificationStore).db;
      // Random text: neither database can compress 200 copies of it into little.
      const content = randomBytes(24_000).toString('base64');
      const recipients = Array.from({ length: 200 }, (_, i) => `user-${i}`);
      const before = await databaseBytes(db, backend.name);
      await store.publish({ ...request(clock, { recipients, content, data: { blob: content.slice(0, 8000) } }), deliverAt: isoAt(clock, 60_000) });
      const grown = (await databaseBytes(db, backend.name)) - before;
      // One copy is 40 KB; one per recipient would be 8 MB.
      assert.ok(grown < 2_000_000, `the database grew by ${grown} bytes for 200 recipients`);
      clock.advance(60_000);
      const events = await store.deliverDue(isoAt(clock), 1000);
      assert.equal(events.length, 200);
      assert.ok(events.every((e) => e.notification.content === content && e.notification.data?.blob === content.slice(0, 8000)));
    });

    test('a scheduled notification takes its topic sequence when delivered, after those published meanwhile', async (t) => {
      const { store, clock } = await backend.open(t);
      await store.publish(request(clock, { recipients: ['alice'], content: 'a' }));
      const scheduled = await store.publish(request(clock, { recipients: ['alice'], content: 's', deliver_at: isoAt(clock, 10_000) }));
      await store.publish(request(clock, { recipients: ['alice'], content: 'b' }));
      const delivered = await store.deliverDue(isoAt(clock, 10_000), 100);
      assert.deepEqual(delivered.map((e) => [e.topic, e.seq, e.notification.id]), [['user:alice', 3, scheduled.scheduled?.[0]?.notification.id]]);
      assert.deepEqual((await store.eventsAfter('user:alice', 0, 10)).map((e) => e.notification.content), ['a', 'b', 's']);
      assert.equal(await store.nextDueAt(), null);
    });

    test('a private scheduled notification is not delivered to a recipient who muted its type after it was scheduled', async (t) => {
      const { store, clock } = await backend.open(t);
      await store.publish(request(clock, { recipients: ['alice', 'bob'], type: 'promo.sale', content: 'later', deliver_at: isoAt(clock, 5_000) }));
      await store.setMutedTypes('alice', ['promo.*']);
      const delivered = await store.deliverDue(isoAt(clock, 5_000), 100);
      assert.deepEqual(delivered.map((e) => e.topic), ['user:bob']);
      assert.deepEqual(await listed(store), []);
      assert.equal(await store.nextDueAt(), null, 'the muted copy is not left scheduled');
    });

    test('a critical scheduled notification is delivered to a recipient who muted its type meanwhile', async (t) => {
      const { store, clock } = await backend.open(t);
      await store.publish(request(clock, { recipients: ['alice'], type: 'promo.sale', content: 'critical', critical: true, deliver_at: isoAt(clock, 5_000) }));
      await store.setMutedTypes('alice', ['promo.*']);
      assert.deepEqual((await store.deliverDue(isoAt(clock, 5_000), 100)).map((e) => e.topic), ['user:alice']);
    });

    test('one delivery of several publishes stores each its own content, answered as read back, a type muted meanwhile left out', async (t) => {
      const { store, clock } = await backend.open(t);
      await store.publish(request(clock, { recipients: ['alice', 'bob'], type: 'promo.sale', content: 'one', data: { n: 1 }, deliver_at: isoAt(clock, 1_000) }));
      await store.publish(request(clock, { topic: 'broadcast', content: 'two', deliver_at: isoAt(clock, 2_000) }));
      await store.publish(request(clock, { recipients: ['alice', 'bob'], content: 'three', critical: true, deliver_at: isoAt(clock, 3_000) }));
      await store.setMutedTypes('bob', ['promo.*']);
      const delivered = await store.deliverDue(isoAt(clock, 5_000), 100);
      assert.deepEqual(delivered.map((e) => [e.topic, e.seq, e.notification.content]).sort(),
        [['broadcast', 1, 'two'], ['user:alice', 1, 'one'], ['user:alice', 2, 'three'], ['user:bob', 1, 'three']]);
      const read = await Promise.all(delivered.map(async (e) => (await store.eventsAfter(e.topic, e.seq - 1, 1))[0]));
      assert.deepEqual(read, delivered.map((e) => ({ ...e, critical: e.critical === true })));
    });

    test('deliverDue delivers only what is due, and each notification once', async (t) => {
      const { store, clock } = await backend.open(t);
      await store.publish(request(clock, { recipients: ['alice'], content: 'first', deliver_at: isoAt(clock, 5_000) }));
      await store.publish(request(clock, { recipients: ['alice'], content: 'second', deliver_at: isoAt(clock, 10_000) }));
      assert.deepEqual((await store.deliverDue(isoAt(clock, 4_999), 100)).length, 0);
      assert.deepEqual((await store.deliverDue(isoAt(clock, 5_000), 100)).map((e) => e.notification.content), ['first']);
      assert.deepEqual((await store.deliverDue(isoAt(clock, 5_000), 100)).length, 0);
      assert.deepEqual((await store.deliverDue(isoAt(clock, 10_000), 100)).map((e) => e.notification.content), ['second']);
    });

    test('a scheduled publish with an idempotency key answers the same ids before and after delivery', async (t) => {
      const { store, clock } = await backend.open(t);
      const body = { recipients: ['alice', 'bob'], deliver_at: isoAt(clock, 5_000), idempotency_key: 'k' };
      const first = await store.publish(request(clock, body));
      const ids = first.scheduled?.map((s) => s.notification.id);
      const before = await store.publish(request(clock, body));
      assert.equal(before.replayed, true);
      assert.deepEqual(before.scheduled?.map((s) => s.notification.id), ids);
      await store.deliverDue(isoAt(clock, 5_000), 100);
      const after = await store.publish(request(clock, body));
      assert.deepEqual(after.events.map((e) => e.notification.id), ids);
      assert.equal(await store.nextDueAt(), null, 'nothing scheduled again');
    });

    test('cancelScheduled cancels before delivery, answers already_delivered after, and not_found to another publisher', async (t) => {
      const { store, clock } = await backend.open(t);
      const cancelled = (await store.publish(request(clock, { recipients: ['alice'], deliver_at: isoAt(clock, 5_000) }))).scheduled?.[0]?.notification.id as string;
      const delivered = (await store.publish(request(clock, { recipients: ['alice'], deliver_at: isoAt(clock, 5_000) }))).scheduled?.[0]?.notification.id as string;
      assert.equal(await store.cancelScheduled('other-app', cancelled), 'not_found');
      assert.equal(await store.cancelScheduled('app', cancelled), 'cancelled');
      assert.equal(await store.cancelScheduled('app', cancelled), 'not_found');
      assert.deepEqual((await store.deliverDue(isoAt(clock, 5_000), 100)).map((e) => e.notification.id), [delivered]);
      assert.equal(await store.cancelScheduled('app', delivered), 'already_delivered');
      assert.equal(await store.cancelScheduled('other-app', delivered), 'not_found');
    });

    test('cancelScheduled answers expired for one whose expiry passed before delivery, before and after the delivery dropped it', async (t) => {
      const { store, clock } = await backend.open(t);
      const body = { recipients: ['alice'], deliver_at: isoAt(clock, 5_000), expires_at: isoAt(clock, 6_000) };
      const id = (await store.publish(request(clock, body))).scheduled?.[0]?.notification.id as string;
      clock.advance(6_000);
      assert.equal(await store.cancelScheduled('app', id), 'expired', 'past its expiry, not yet dropped');
      assert.deepEqual(await store.deliverDue(isoAt(clock), 100), [], 'dropped, not delivered');
      assert.equal(await store.cancelScheduled('app', id), 'expired', 'after the delivery dropped it');
      assert.equal(await store.cancelScheduled('other-app', id), 'not_found');
      assert.equal(await store.nextDueAt(), null);
    });

    test('an expired notification is not listed, counted or replayed, and expiredBetween finds it in its window', async (t) => {
      const { store, clock } = await backend.open(t);
      const expiring = await store.publish(request(clock, { recipients: ['alice'], content: 'offer', expires_at: isoAt(clock, 30_000) }));
      await store.publish(request(clock, { recipients: ['alice'], content: 'kept' }));
      assert.deepEqual(await listed(store), ['kept', 'offer']);
      assert.equal(expiring.events[0]?.notification.expires_at, isoAt(clock, 30_000));
      clock.advance(30_000);
      assert.deepEqual(await listed(store), ['kept']);
      assert.equal(await unread(store), 1);
      assert.deepEqual((await store.eventsAfter('user:alice', 0, 10, 'alice')).map((e) => e.notification.content), ['kept']);
      assert.deepEqual(await store.expiredBetween({ after: isoAt(clock, -30_000), id: null }, isoAt(clock), 10),
        [{ id: expiring.events[0]?.notification.id, topic: 'user:alice', expires_at: isoAt(clock) }]);
      assert.deepEqual(await store.expiredBetween({ after: isoAt(clock), id: null }, isoAt(clock, 1_000), 10), []);
    });

    test('the clock stepping back does not bring an expired notification back to the list, the count or a replay', async (t) => {
      const { store, clock } = await backend.open(t);
      await store.publish(request(clock, { recipients: ['alice'], content: 'offer', expires_at: isoAt(clock, 30_000) }));
      await store.publish(request(clock, { recipients: ['alice'], content: 'kept' }));
      clock.advance(30_000);
      assert.deepEqual(await listed(store), ['kept']);
      // The sweep told the streams it expired; it never will again. An NTP step back must
      // not make it live for them (and every recount) until the clock passes it once more.
      clock.set(clock.now() - 10_000);
      assert.deepEqual(await listed(store), ['kept']);
      assert.equal(await unread(store), 1);
      assert.deepEqual((await store.eventsAfter('user:alice', 0, 10, 'alice')).map((e) => e.notification.content), ['kept']);
    });

    test('expiredBetween reads a window in pages of (expires_at, id), also across rows expiring at the same instant', async (t) => {
      const { store, clock } = await backend.open(t);
      const at = isoAt(clock, 10_000);
      const published = await store.publish(request(clock, { recipients: ['u1', 'u2', 'u3', 'u4', 'u5'], content: 'x', expires_at: at }));
      const ids = published.events.map((e) => e.notification.id).sort();
      clock.advance(10_000);
      const pages: string[][] = [];
      let start = { after: isoAt(clock, -20_000), id: null as string | null };
      for (let i = 0; i < 10; i++) {
        const page = await store.expiredBetween(start, isoAt(clock), 2);
        pages.push(page.map((row) => row.id));
        const last = page.at(-1);
        if (page.length < 2 || !last) break;
        start = { after: last.expires_at, id: last.id };
      }
      assert.deepEqual(pages, [ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);
    });

    test('a snoozed notification leaves the default list and the count, is listed as snoozed, and is back after its time', async (t) => {
      const { store, clock } = await backend.open(t);
      const id = (await store.publish(request(clock, { recipients: ['alice'], content: 'task' }))).events[0]?.notification.id as string;
      await store.publish(request(clock, { recipients: ['alice'], content: 'other' }));
      const snoozed = await store.updateState(alice(), id, { snoozedUntil: isoAt(clock, 60_000) });
      assert.equal(snoozed?.snoozed_until, isoAt(clock, 60_000));
      assert.deepEqual(await listed(store), ['other']);
      assert.deepEqual(await listed(store, { status: 'unread' }), ['other']);
      assert.deepEqual(await listed(store, { status: 'snoozed' }), ['task']);
      assert.equal(await unread(store), 1);
      clock.advance(60_000);
      assert.deepEqual(await listed(store), ['other', 'task']);
      assert.deepEqual(await listed(store, { status: 'snoozed' }), []);
      assert.equal(await unread(store), 2);
      assert.deepEqual(await store.wokenBetween(isoAt(clock, -1_000), isoAt(clock)), [{ user: 'alice', id }]);
    });

    test('an expired notification of a muted type leaves the muting reader\'s count once, not twice', async (t) => {
      const { store, clock } = await backend.open(t);
      await store.setMutedTypes('alice', ['promo', 'social.*']);
      for (const type of ['promo', 'social.like', 'alert']) {
        await store.publish(request(clock, { topic: 'broadcast', type, expires_at: isoAt(clock, 60_000) }));
        await store.publish(request(clock, { topic: 'broadcast', type }));
      }
      assert.equal(await unread(store), 2);
      clock.advance(120_000);
      assert.equal(await unread(store), 1);
      assert.equal(await listed(store, { status: 'unread' }).then((items) => items.length), 1);
    });

    test('the snoozed list takes every topic of the reader, newest first, and pages across them', async (t) => {
      const { store, clock } = await backend.open(t);
      const ids: string[] = [];
      for (const [i, topic] of ['broadcast', 'user:alice', 'broadcast', 'user:alice'].entries()) {
        const body = topic === 'broadcast' ? { topic, content: `n${i}` } : { recipients: ['alice'], content: `n${i}` };
        const result = await store.publish(request(clock, body));
        ids.push(result.events[0]?.notification.id as string);
      }
      for (const id of ids) await store.updateState(alice(), id, { snoozedUntil: isoAt(clock, 60_000) });
      assert.deepEqual(await listed(store, { status: 'snoozed' }), ['n3', 'n2', 'n1', 'n0']);
      const first = await store.listInbox(alice(), { ...ALL, status: 'snoozed', limit: 3 });
      assert.deepEqual(first.items.map((n) => n.content), ['n3', 'n2', 'n1']);
      assert.deepEqual(await listed(store, { status: 'snoozed', before: first.nextBefore }), ['n0']);
      assert.deepEqual(await listed(store), []);
    });

    test('a snooze set to null wakes the notification at once, with its read state kept', async (t) => {
      const { store, clock } = await backend.open(t);
      const id = (await store.publish(request(clock, { recipients: ['alice'], content: 'task' }))).events[0]?.notification.id as string;
      await store.updateState(alice(), id, { status: 'read', snoozedUntil: isoAt(clock, 60_000) });
      const woken = await store.updateState(alice(), id, { snoozedUntil: null });
      assert.equal(woken?.snoozed_until, null);
      assert.equal(woken?.status, 'read');
      assert.deepEqual(await listed(store, { status: 'read' }), ['task']);
    });

    if (backend.name === 'postgres') {
      test('a scheduled publish with NUL in its text is the request\'s fault (invalid_request), as an immediate one is', async (t) => {
        const { store, clock } = await backend.open(t);
        await assert.rejects(store.publish(request(clock, { recipients: ['alice'], content: 'a\0b', deliver_at: isoAt(clock, 5_000) })),
          (err: unknown) => err instanceof HeraldError && err.code === 'invalid_request');
      });

      test('two nodes claiming due notifications at once deliver each exactly once, gap-free', async (t) => {
        const { store, clock, another } = await backend.open(t);
        const second = await another();
        const recipients = Array.from({ length: 300 }, (_, i) => `user-${i % 30}`);
        const accepted = await store.publish(request(clock, { recipients: [...new Set(recipients)], deliver_at: isoAt(clock, 1_000) }));
        for (let i = 0; i < 9; i++) await store.publish(request(clock, { recipients: [...new Set(recipients)], deliver_at: isoAt(clock, 1_000) }));
        assert.equal(accepted.scheduled?.length, 30);
        const drain = async (node: NotificationStore) => {
          const ids: string[] = [];
          for (;;) {
            const events = await node.deliverDue(isoAt(clock, 1_000), 7);
            ids.push(...events.map((e) => e.notification.id));
            if (events.length === 0) return ids;
          }
        };
        const [a, b] = await Promise.all([drain(store), drain(second)]);
        const all = [...a, ...b];
        assert.equal(all.length, 300);
        assert.equal(new Set(all).size, 300, 'no notification delivered twice');
        const db = (store as unknown as { db: Kysely<Database> }).db;
        const rows = await db.selectFrom('notifications').select(['topic', 'seq']).orderBy('topic').orderBy('seq').execute();
        const byTopic = new Map<string, number[]>();
        for (const row of rows) byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), Number(row.seq)]);
        for (const [topic, seqs] of byTopic) assert.deepEqual(seqs, Array.from({ length: 10 }, (_, i) => i + 1), topic);
      });
    }
  });
}
