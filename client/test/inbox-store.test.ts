// InboxStore's own logic over an in-memory stream and inbox: snapshots that keep their
// identity until something a view shows changes, one state per view shared by its
// listeners, started by the first and stopped a tick after the last. (The state itself
// is tested against a scripted server in inbox-features.test.ts; the stores in React and
// Vue apps in Chromium, test/browser/framework-app-cases.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../src/emitter.js';
import type { HeraldClient } from '../src/index.js';
import type { InboxPage, ListQuery } from '../src/inbox.js';
import { InboxStore, inboxStore } from '../src/inbox-store.js';
import { HeraldError, type HeraldNotification, type NotificationStream, type StreamEventMap } from '../src/types.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';

function item(id: string, overrides: Partial<HeraldNotification> = {}): HeraldNotification {
  return {
    id,
    recipient: 'alice',
    topic: null,
    type: 'alert',
    title: null,
    content: `content of ${id}`,
    data: null,
    status: 'unread',
    seen_at: null,
    read_at: null,
    archived_at: null,
    created_at: `2026-01-01T00:00:0${id.slice(1)}.000Z`,
    expires_at: null,
    snoozed_until: null,
    ...overrides,
  };
}

/** A stream the test drives by hand, counting who listens. */
class FakeStream implements NotificationStream {
  readonly #emitter = new Emitter<StreamEventMap>();
  listeners = 0;
  state = 'open' as const;
  cursor = undefined;
  on<K extends keyof StreamEventMap>(name: K, listener: (event: StreamEventMap[K]) => void): () => void {
    this.listeners += 1;
    const off = this.#emitter.on(name, listener);
    return () => {
      this.listeners -= 1;
      off();
    };
  }
  emit<K extends keyof StreamEventMap>(name: K, event: StreamEventMap[K]): void {
    this.#emitter.emit(name, event);
  }
  start(): void {}
  close(): void {}
}

/** A client whose inbox answers `page()` to every list request and records the queries. */
function fakeClient(page: () => InboxPage | Promise<InboxPage>) {
  const stream = new FakeStream();
  const queries: ListQuery[] = [];
  const inbox = {
    list: async (query: ListQuery) => {
      queries.push(query);
      return page();
    },
  };
  return { client: { stream, inbox } as unknown as HeraldClient, stream, queries };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('the snapshot keeps its identity until a change, which notifies the listener once', async () => {
  const { client, stream } = fakeClient(() => ({ items: [item('n1')], next_cursor: null, unread_count: 1 }));
  const store = new InboxStore(client, {}, new ManualClock());
  let calls = 0;
  store.subscribe(() => {
    calls += 1;
  });
  await settle();
  const loaded = store.getSnapshot();
  assert.equal(loaded.loaded, true);
  assert.equal(store.getSnapshot(), loaded, 'the same object while nothing changes');
  const before = calls;

  stream.emit('notification', { ...item('n2'), unread_count: 2 });
  assert.equal(calls, before + 1);
  assert.notEqual(store.getSnapshot(), loaded);
  assert.deepEqual(store.getSnapshot().items.map((n) => n.id), ['n2', 'n1']);
  assert.equal(store.getSnapshot().unreadCount, 2);
});

test('a stream event that changes nothing shown keeps the snapshot and notifies no one', async () => {
  const { client, stream } = fakeClient(() => ({ items: [item('n1', { status: 'read', read_at: '2026-01-02T00:00:00.000Z' })], next_cursor: null, unread_count: 0 }));
  const store = new InboxStore(client, {}, new ManualClock());
  let calls = 0;
  store.subscribe(() => {
    calls += 1;
  });
  await settle();
  const shown = store.getSnapshot();
  const before = calls;
  // The echo of this tab's own mark-read: the item as it already is, and the same count.
  stream.emit('notification.updated', {
    ids: ['n1'],
    status: 'read',
    archived: null,
    seen: true,
    all: false,
    unread_count: 0,
    notification: item('n1', { status: 'read', read_at: '2026-01-02T00:00:00.000Z' }),
  });
  assert.equal(calls, before);
  assert.equal(store.getSnapshot(), shown);
});

test('listeners of one store share one state: one list request for all of them', async () => {
  const { client, queries } = fakeClient(() => ({ items: [], next_cursor: null, unread_count: 0 }));
  const store = new InboxStore(client, {}, new ManualClock());
  store.subscribe(() => {});
  store.subscribe(() => {});
  await settle();
  assert.equal(queries.length, 1);
});

test('the last listener leaving stops following the stream one tick later', async () => {
  const clock = new ManualClock();
  const { client, stream } = fakeClient(() => ({ items: [], next_cursor: null, unread_count: 0 }));
  const store = new InboxStore(client, {}, clock);
  const off = store.subscribe(() => {});
  await settle();
  assert.ok(stream.listeners > 0);
  off();
  assert.ok(stream.listeners > 0, 'still following until the tick');
  clock.advance(0);
  assert.equal(stream.listeners, 0);
});

test('a listener that leaves and comes back within the tick keeps the state: no second list request', async () => {
  const clock = new ManualClock();
  const { client, queries, stream } = fakeClient(() => ({ items: [], next_cursor: null, unread_count: 0 }));
  const store = new InboxStore(client, {}, clock);
  store.subscribe(() => {})();
  store.subscribe(() => {});
  clock.advance(0);
  await settle();
  assert.equal(queries.length, 1);
  assert.ok(stream.listeners > 0);
});

test('a store stopped and subscribed again follows the stream again and reloads', async () => {
  const clock = new ManualClock();
  const { client, queries, stream } = fakeClient(() => ({ items: [], next_cursor: null, unread_count: 0 }));
  const store = new InboxStore(client, {}, clock);
  store.subscribe(() => {})();
  clock.advance(0);
  assert.equal(stream.listeners, 0);
  store.subscribe(() => {});
  await settle();
  assert.ok(stream.listeners > 0);
  assert.equal(queries.length, 2);
});

test('a failed page load sets error and keeps the list; the next change clears it', async () => {
  let fail = false;
  const { client, stream } = fakeClient(() => {
    if (fail) throw new HeraldError('unavailable', 'Herald answered 503', 503);
    return { items: [item('n1')], next_cursor: null, unread_count: 1 };
  });
  const store = new InboxStore(client, {}, new ManualClock());
  store.subscribe(() => {});
  await settle();
  fail = true;
  await store.state.reload();
  assert.equal(store.getSnapshot().error?.code, 'unavailable');
  assert.deepEqual(store.getSnapshot().items.map((n) => n.id), ['n1']);

  stream.emit('notification', { ...item('n2'), unread_count: 2 });
  assert.equal(store.getSnapshot().error, undefined);
});

test('inboxStore hands out one store per client and view', () => {
  const { client } = fakeClient(() => ({ items: [], next_cursor: null, unread_count: 0 }));
  const { client: other } = fakeClient(() => ({ items: [], next_cursor: null, unread_count: 0 }));
  const inbox = inboxStore(client);
  assert.equal(inboxStore(client, {}), inbox, 'the default view is shared');
  assert.equal(inboxStore(client, { status: 'all', archived: false, pageSize: 50 }), inbox, 'defaults spelled out are the same view');
  assert.notEqual(inboxStore(client, { status: 'unread' }), inbox);
  assert.notEqual(inboxStore(client, { pageSize: 10 }), inbox);
  assert.notEqual(inboxStore(other), inbox, 'another client has its own');
});
