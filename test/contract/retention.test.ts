// Retention's contract, run against every backend: batched deletes of old notifications
// (with their per-user state), idempotency keys and expired tickets; the lowest sequence a
// topic still keeps; the inbox paging across a purge; one node purging at a time.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { toPublishRequest } from '../../src/ingest/publish-request.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { openStore } from '../../src/store/open-store.js';
import { Retention } from '../../src/store/retention.js';
import type { Audience, InboxQuery, NotificationStore } from '../../src/store/store.js';
import { createPgDatabase, lockServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };

interface Backend {
  name: string;
  /** A migrated store on a fresh database, and a function opening another node's store on it. */
  open(t: TestContext): Promise<{ store: NotificationStore; another(): Promise<NotificationStore> }>;
}

async function opened(t: TestContext, url: string): Promise<NotificationStore> {
  const store = await openStore(url);
  t.after(() => store.close());
  await store.migrate();
  return store;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async open(t) {
      const dir = mkdtempSync(join(tmpdir(), 'herald-retention-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const url = join(dir, 'herald.db');
      return { store: await opened(t, url), another: () => opened(t, url) };
    },
  },
  {
    name: 'postgres',
    async open(t) {
      await lockServices(t);
      const db = await createPgDatabase();
      t.after(() => db.drop());
      return { store: await opened(t, db.url), another: () => opened(t, db.url) };
    },
  },
];

function request(body: Record<string, unknown>) {
  return toPublishRequest({ type: 'alert', content: 'hello', ...body }, 'app', LIMITS);
}

function audience(user: string): Audience {
  return { user, topics: [`user:${user}`, 'broadcast'] };
}

/** A time strictly after everything stored so far and strictly before anything stored next. */
async function boundary(): Promise<Date> {
  const start = Date.now();
  await waitFor(() => Date.now() > start, 'the clock to tick', 1000, 1);
  const cut = new Date();
  await waitFor(() => Date.now() > cut.getTime(), 'the clock to tick', 1000, 1);
  return cut;
}

const ALL: InboxQuery = { status: 'all', type: null, archived: false, limit: 50, before: null };

for (const backend of backends) {
  describe(`retention on ${backend.name}`, () => {
    test('older notifications are deleted with every user\'s state for them; newer ones and their state stay', async (t) => {
      const { store } = await backend.open(t);
      const old = await store.publish(request({ recipients: ['alice', 'bob'], content: 'old' }));
      const oldBroadcast = await store.publish(request({ topic: 'broadcast', content: 'old broadcast' }));
      await store.updateState(audience('alice'), old.events[0]?.notification.id as string, { status: 'read' });
      await store.markAll(audience('bob'), 'seen', null);
      const cutoff = await boundary();
      const kept = await store.publish(request({ recipients: ['alice'], content: 'new' }));
      await store.updateState(audience('alice'), kept.events[0]?.notification.id as string, { archived: true });

      const purged = await store.retention().purgeNotifications(cutoff, 100);
      assert.deepEqual({ ...purged, removed: [] }, { notifications: 3, states: 3, removed: [] });
      // What open streams are told left: each deleted notification with its topic.
      const removed = [...old.events, ...oldBroadcast.events].map((e) => ({ id: e.notification.id, topic: e.topic }));
      const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
      assert.deepEqual([...purged.removed].sort(byId), removed.sort(byId));
      assert.deepEqual((await store.listInbox(audience('alice'), ALL)).items, []);
      const archived = await store.listInbox(audience('alice'), { ...ALL, archived: true });
      assert.deepEqual(archived.items.map((n) => [n.content, n.archived_at !== null]), [['new', true]]);
      assert.deepEqual((await store.listInbox(audience('bob'), ALL)).items, []);
    });

    test('the unread count after a purge counts only what is kept: each topic\'s count of stored rows follows the deletes', async (t) => {
      const { store } = await backend.open(t);
      await store.publish(request({ topic: 'broadcast', content: 'old 1' }));
      await store.publish(request({ topic: 'broadcast', content: 'old 2' }));
      await store.publish(request({ recipients: ['carol'], content: 'old private' }));
      const cutoff = await boundary();
      await store.publish(request({ topic: 'broadcast', content: 'new' }));
      await store.publish(request({ recipients: ['carol'], content: 'new private' }));
      assert.equal((await store.unreadSnapshot(audience('carol'))).unread, 5);
      assert.equal((await store.retention().purgeNotifications(cutoff, 100)).notifications, 3);
      assert.equal((await store.unreadSnapshot(audience('carol'))).unread, 2);
      await store.publish(request({ topic: 'broadcast', content: 'after the purge' }));
      assert.equal((await store.unreadSnapshot(audience('carol'))).unread, 3);
    });

    test('purges and the retention lease succeed while publishes commit beside them', async (t) => {
      // On SQLite publishes commit on another connection (the writer thread): a purge that
      // read its batch and then deleted it would fail whenever one committed in between.
      const { store } = await backend.open(t);
      for (let i = 0; i < 20; i++) await store.publish(request({ recipients: ['alice'], content: `seed${i}` }));
      const future = new Date(Date.now() + 3_600_000);
      const publishes = Array.from({ length: 400 }, (_, i) => store.publish(request({ recipients: [`u${i % 50}`], content: `c${i}` })));
      let passes = 0;
      for (let i = 0; i < 40; i++) {
        await store.retention().purgeNotifications(future, 5);
        assert.equal(await store.retention().exclusively(async () => 'held'), 'held');
        passes++;
      }
      await Promise.all(publishes);
      assert.equal(passes, 40);
    });

    test('a scheduled notification dropped because it expired is forgotten with notifications of its age', async (t) => {
      const { store } = await backend.open(t);
      const soon = (ms: number) => new Date(Date.now() + ms).toISOString();
      const published = await store.publish(request({ recipients: ['alice'], deliver_at: soon(60_000), expires_at: soon(120_000) }));
      const id = published.scheduled?.[0]?.notification.id as string;
      // A delivery judged after both times drops it (the store's own now is still before them).
      await store.deliverDue(soon(180_000), 100);
      assert.equal(await store.cancelScheduled('app', id), 'expired');
      await store.retention().purgeNotifications(await boundary(), 100);
      assert.equal(await store.cancelScheduled('app', id), 'not_found');
    });

    test('a purge deletes at most one batch', async (t) => {
      const { store } = await backend.open(t);
      for (let i = 0; i < 7; i++) await store.publish(request({ recipients: ['alice'], content: `n${i}` }));
      const cutoff = await boundary();
      assert.equal((await store.retention().purgeNotifications(cutoff, 3)).notifications, 3);
      assert.deepEqual((await store.eventsAfter('user:alice', 0, 10)).map((e) => e.notification.content), ['n3', 'n4', 'n5', 'n6']);
    });

    test('the inbox pages correctly across a purge', async (t) => {
      const { store } = await backend.open(t);
      for (let i = 1; i <= 15; i++) await store.publish(request({ recipients: ['alice'], content: `old${i}` }));
      const cutoff = await boundary();
      for (let i = 16; i <= 30; i++) await store.publish(request({ recipients: ['alice'], content: `new${i}` }));
      const first = await store.listInbox(audience('alice'), { ...ALL, limit: 10 });
      assert.deepEqual(first.items.map((n) => n.content), Array.from({ length: 10 }, (_, i) => `new${30 - i}`));
      await store.retention().purgeNotifications(cutoff, 1000);
      const second = await store.listInbox(audience('alice'), { ...ALL, limit: 10, before: first.nextBefore });
      assert.deepEqual(second.items.map((n) => n.content), ['new20', 'new19', 'new18', 'new17', 'new16']);
      assert.equal(second.nextBefore, null);
    });

    test('lowestKeptSeq is the first sequence kept, head + 1 once all are purged, 1 for a topic never used', async (t) => {
      const { store } = await backend.open(t);
      for (let i = 0; i < 3; i++) await store.publish(request({ recipients: ['alice', 'bob'] }));
      const cutoff = await boundary();
      await store.publish(request({ recipients: ['alice'] }));
      assert.equal(await store.lowestKeptSeq('user:alice'), 1);
      await store.retention().purgeNotifications(cutoff, 1000);
      assert.equal(await store.lowestKeptSeq('user:alice'), 4);
      assert.equal(await store.lowestKeptSeq('user:bob'), 4);
      assert.equal(await store.lowestKeptSeq('user:carol'), 1);
      // Sequences go on from the head: a purge never reuses a number.
      assert.equal((await store.publish(request({ recipients: ['bob'] }))).events[0]?.seq, 4);
    });

    test('idempotency keys older than the cutoff are forgotten: the same key then publishes anew', async (t) => {
      const { store } = await backend.open(t);
      const first = await store.publish(request({ recipients: ['alice'], idempotency_key: 'k1' }));
      await store.publish(request({ recipients: ['alice'], idempotency_key: 'k2' }));
      const cutoff = await boundary();
      await store.publish(request({ recipients: ['alice'], idempotency_key: 'k3' }));
      assert.equal(await store.retention().purgeIdempotencyKeys(cutoff, 100), 2);
      const again = await store.publish(request({ recipients: ['alice'], idempotency_key: 'k1' }));
      assert.equal(again.replayed, false);
      assert.notEqual(again.events[0]?.notification.id, first.events[0]?.notification.id);
      assert.equal((await store.publish(request({ recipients: ['alice'], idempotency_key: 'k3' }))).replayed, true);
    });

    test('expired redeemed tickets are deleted; unexpired ones stay redeemed', async (t) => {
      const { store } = await backend.open(t);
      const now = Date.now();
      assert.equal(await store.redeemOnce('expired', now - 1000), true);
      assert.equal(await store.redeemOnce('live', now + 60_000), true);
      assert.equal(await store.retention().purgeExpiredTickets(now, 100), 1);
      assert.equal(await store.redeemOnce('live', now + 60_000), false);
    });

    test('one node purges at a time: while one holds the retention lock, another node\'s pass is skipped', async (t) => {
      const { store, another } = await backend.open(t);
      const other = await another();
      let release!: () => void;
      const held = new Promise<void>((resolve) => { release = resolve; });
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => { entered = resolve; });
      const first = store.retention().exclusively(async () => { entered(); await held; return 'first'; });
      await inside;
      assert.equal(await other.retention().exclusively(async () => 'second'), null);
      release();
      assert.equal(await first, 'first');
      assert.equal(await other.retention().exclusively(async () => 'second'), 'second');
    });

    test('a retention pass purges in batches past the retention days and the idempotency TTL, and counts what it deleted', async (t) => {
      const { store } = await backend.open(t);
      for (let i = 0; i < 5; i++) await store.publish(request({ recipients: ['alice', 'bob'], idempotency_key: `k${i}` }));
      const metrics = new Metrics();
      const retention = new Retention(store.retention(), { retentionDays: 30, idempotencyTtlHours: 24, batchSize: 3, intervalMs: 3600_000, log: createLogger('silent'), metrics });
      const in31Days = new Date(Date.now() + 31 * 24 * 3600_000);
      const pass = await retention.runOnce(in31Days);
      assert.deepEqual(pass && { n: pass.notifications, k: pass.idempotencyKeys }, { n: 10, k: 5 });
      assert.ok((pass?.batches ?? 0) >= 4 + 2 + 1, `batches: ${pass?.batches}`);
      assert.equal(await store.lowestKeptSeq('user:alice'), 6);
      assert.match(await metrics.registry.metrics(), /herald_retention_deleted_total\{kind="notifications"\} 10/);
    });

    test('HERALD_RETENTION_DAYS=0 keeps every notification', async (t) => {
      const { store } = await backend.open(t);
      await store.publish(request({ recipients: ['alice'] }));
      const retention = new Retention(store.retention(), { retentionDays: 0, idempotencyTtlHours: 0, batchSize: 10, intervalMs: 3600_000, log: createLogger('silent'), metrics: new Metrics() });
      await retention.runOnce(new Date(Date.now() + 10_000 * 24 * 3600_000));
      assert.equal((await store.eventsAfter('user:alice', 0, 10)).length, 1);
    });
  });
}
