import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test, type TestContext } from 'node:test';
import { HeraldInbox } from '../src/inbox.js';
import { InboxState, type InboxFilter } from '../src/inbox-state.js';
import { HeraldStream } from '../src/stream.js';
import { SharedHeraldStream } from '../src/tabs.js';
import { HeraldError, type Clock, type HeraldNotification, type NotificationStream, type StreamEventMap } from '../src/types.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import { notification, readyEvent, sseEvent, sseHead, startScriptedServer, waitFor } from './scripted-server.js';

interface Recorded {
  method: string;
  url: string;
  body: unknown;
}

interface ListAnswer {
  items: HeraldNotification[];
  next_cursor: string | null;
  unread_count: number;
}

interface FakeHerald {
  url: string;
  requests: Recorded[];
  /** The items `GET /v1/notifications` answers for a given query (default: none), or when its promise settles; undefined never answers. */
  list: (query: URLSearchParams) => ListAnswer | Promise<ListAnswer> | undefined;
  /** Answers for other routes, by "METHOD /path". */
  routes: Map<string, (res: ServerResponse, body: unknown) => void>;
  /** Writes one event to every open stream. */
  send(name: string, data: unknown, id?: string): void;
  streams(): number;
}

function json(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? JSON.parse(text) : undefined;
}

/** A scripted Herald: the inbox routes answer what the test sets, the stream sends what it is told. */
async function fakeHerald(t: TestContext): Promise<FakeHerald> {
  const open = new Set<ServerResponse>();
  const fake: Partial<FakeHerald> & { requests: Recorded[] } = {
    requests: [],
    list: () => ({ items: [], next_cursor: null, unread_count: 0 }),
    routes: new Map(),
  };
  const server = await startScriptedServer([
    async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body = await readBody(req);
      fake.requests.push({ method: req.method ?? '', url: `${url.pathname}${url.search}`, body });
      if (url.pathname === '/v1/stream') {
        sseHead(res);
        res.write(readyEvent('e.0'));
        open.add(res);
        res.on('close', () => open.delete(res));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/v1/notifications') {
        const page = await fake.list?.(url.searchParams);
        if (page) json(res, 200, page);
        return;
      }
      const route = fake.routes?.get(`${req.method} ${url.pathname}`);
      if (route) route(res, body);
      else json(res, 404, { error: { code: 'not_found', message: 'no such route' } });
    },
  ]);
  fake.url = server.url;
  fake.send = (name, data, id) => {
    for (const res of open) res.write(sseEvent(name, data, id));
  };
  fake.streams = () => open.size;
  t.after(() => server.close());
  return fake as FakeHerald;
}

function item(id: string, overrides: Partial<HeraldNotification> = {}): HeraldNotification {
  const { unread_count: _, ...plain } = notification(id) as unknown as HeraldNotification & { unread_count: number };
  return { ...plain, expires_at: null, snoozed_until: null, ...overrides };
}

const later = (ms: number) => new Date(Date.now() + ms).toISOString();

/** An inbox state over a direct stream to the fake, with the first page loaded. */
async function followed(t: TestContext, fake: FakeHerald, filter: InboxFilter = {}, clock?: Clock) {
  const stream = new HeraldStream({ url: fake.url, minDelayMs: 10, maxDelayMs: 20 });
  const state = new InboxState({ inbox: new HeraldInbox({ url: fake.url }), stream, filter, ...(clock ? { clock } : {}) });
  t.after(() => {
    state.dispose();
    stream.close();
  });
  // Open first, then load: the `ready` (and the reload it asks for) is behind us, so no
  // late page answer can overwrite what the test sends next.
  stream.start();
  await waitFor(() => fake.streams() === 1 && stream.state === 'open', 'the stream is open');
  await state.start();
  return { stream, state };
}

const ids = (state: InboxState) => state.snapshot.items.map((n) => n.id);

test('snooze sends PATCH with the wake time in RFC 3339 and answers the item and the count', async (t) => {
  const fake = await fakeHerald(t);
  const until = new Date('2026-12-01T09:00:00.000Z');
  fake.routes.set('PATCH /v1/notifications/n1', (res) =>
    json(res, 200, { notification: item('n1', { snoozed_until: until.toISOString() }), unread_count: 0 }),
  );
  const change = await new HeraldInbox({ url: fake.url }).snooze('n1', until);
  assert.deepEqual(fake.requests.at(-1), { method: 'PATCH', url: '/v1/notifications/n1', body: { snoozed_until: '2026-12-01T09:00:00.000Z' } });
  assert.equal(change.notification.snoozed_until, until.toISOString());
  assert.equal(change.unread_count, 0);
});

test('snooze with null wakes the item now', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('PATCH /v1/notifications/n1', (res) => json(res, 200, { notification: item('n1'), unread_count: 1 }));
  await new HeraldInbox({ url: fake.url }).snooze('n1', null);
  assert.deepEqual(fake.requests.at(-1)?.body, { snoozed_until: null });
});

test('a snooze the server refuses rejects with its stable code and status', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('PATCH /v1/notifications/n1', (res) =>
    json(res, 400, { error: { code: 'invalid_time', message: 'snoozed_until is more than 366 days ahead' } }),
  );
  const refused = await new HeraldInbox({ url: fake.url }).snooze('n1', new Date('2030-01-01T00:00:00Z')).catch((err: unknown) => err);
  assert.ok(refused instanceof HeraldError);
  assert.equal(refused.code, 'invalid_time');
  assert.equal(refused.status, 400);
});

test('list asks for snoozed items with status=snoozed', async (t) => {
  const fake = await fakeHerald(t);
  fake.list = () => ({ items: [item('n1', { snoozed_until: later(60_000) })], next_cursor: null, unread_count: 0 });
  const page = await new HeraldInbox({ url: fake.url }).list({ status: 'snoozed', limit: 10 });
  assert.equal(fake.requests.at(-1)?.url, '/v1/notifications?status=snoozed&limit=10');
  assert.deepEqual(page.items.map((n) => n.id), ['n1']);
});

test('list pages on with the cursor and lists archived items with archived=true', async (t) => {
  const fake = await fakeHerald(t);
  await new HeraldInbox({ url: fake.url }).list({ archived: true, cursor: 'cA' });
  assert.equal(fake.requests.at(-1)?.url, '/v1/notifications?cursor=cA&archived=true');
});

test('markSeen sends {"seen":true}', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('PATCH /v1/notifications/n1', (res) => json(res, 200, { notification: item('n1'), unread_count: 1 }));
  await new HeraldInbox({ url: fake.url }).markSeen('n1');
  assert.deepEqual(fake.requests.at(-1)?.body, { seen: true });
});

test('unarchive sends {"archived":false}', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('PATCH /v1/notifications/n1', (res) => json(res, 200, { notification: item('n1'), unread_count: 1 }));
  await new HeraldInbox({ url: fake.url }).unarchive('n1');
  assert.deepEqual(fake.requests.at(-1)?.body, { archived: false });
});

test('getPreferences reads the muted types', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('GET /v1/preferences', (res) => json(res, 200, { muted_types: ['promo', 'social.*'] }));
  assert.deepEqual(await new HeraldInbox({ url: fake.url }).getPreferences(), { muted_types: ['promo', 'social.*'] });
});

test('setPreferences PUTs exactly the muted types and answers them as stored', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('PUT /v1/preferences', (res, body) => json(res, 200, body));
  const stored = await new HeraldInbox({ url: fake.url }).setPreferences({ muted_types: ['promo'] });
  assert.deepEqual(fake.requests.at(-1), { method: 'PUT', url: '/v1/preferences', body: { muted_types: ['promo'] } });
  assert.deepEqual(stored, { muted_types: ['promo'] });
});

test('setPreferences past 100 mutes rejects with too_many_mutes', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('PUT /v1/preferences', (res) => json(res, 400, { error: { code: 'too_many_mutes', message: 'at most 100' } }));
  const muted_types = Array.from({ length: 101 }, (_, i) => `t${i}`);
  await assert.rejects(new HeraldInbox({ url: fake.url }).setPreferences({ muted_types }), { code: 'too_many_mutes', status: 400 });
});

test('cancelScheduled sends DELETE and resolves on 204', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('DELETE /v1/notifications/n1', (res) => json(res, 204));
  await new HeraldInbox({ url: fake.url }).cancelScheduled('n1');
  assert.deepEqual(fake.requests.at(-1), { method: 'DELETE', url: '/v1/notifications/n1', body: undefined });
});

test('cancelScheduled of a delivered notification rejects with already_delivered (409)', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('DELETE /v1/notifications/n1', (res) => json(res, 409, { error: { code: 'already_delivered', message: 'too late' } }));
  await assert.rejects(new HeraldInbox({ url: fake.url }).cancelScheduled('n1'), { code: 'already_delivered', status: 409 });
});

test('the stream emits typed preferences.updated and notification.expired events', async (t) => {
  const fake = await fakeHerald(t);
  const stream = new HeraldStream({ url: fake.url });
  const got: Array<StreamEventMap['preferences.updated'] | StreamEventMap['notification.expired']> = [];
  stream.on('preferences.updated', (e) => got.push(e));
  stream.on('notification.expired', (e) => got.push(e));
  t.after(() => stream.close());
  stream.start();
  await waitFor(() => fake.streams() === 1, 'stream open');
  fake.send('preferences.updated', { muted_types: ['promo'], unread_count: 2 });
  fake.send('notification.expired', { ids: ['n1'], unread_count: 1 });
  await waitFor(() => got.length === 2, 'both events');
  assert.deepEqual(got, [
    { muted_types: ['promo'], unread_count: 2 },
    { ids: ['n1'], unread_count: 1 },
  ]);
  assert.equal(stream.cursor, 'e.0', 'neither event moves the cursor');
});

test('inbox state: an expired notification leaves the list and the count follows', async (t) => {
  const fake = await fakeHerald(t);
  fake.list = () => ({ items: [item('n2'), item('n1')], next_cursor: null, unread_count: 2 });
  const { state } = await followed(t, fake);
  await waitFor(() => state.snapshot.items.length === 2, 'two items');
  fake.send('notification.expired', { ids: ['n1'], unread_count: 1 });
  await waitFor(() => ids(state).join() === 'n2', 'n1 gone');
  assert.equal(state.snapshot.unreadCount, 1);
});

test('inbox state: an item snoozed in another tab hides and the count follows', async (t) => {
  const fake = await fakeHerald(t);
  fake.list = () => ({ items: [item('n2'), item('n1')], next_cursor: null, unread_count: 2 });
  const { state } = await followed(t, fake);
  await waitFor(() => state.snapshot.items.length === 2, 'two items');
  const until = later(3_600_000);
  fake.send('notification.updated', {
    ids: ['n1'], status: null, archived: null, seen: null, all: false, snoozed_until: until,
    unread_count: 1, notification: item('n1', { snoozed_until: until }),
  });
  await waitFor(() => ids(state).join() === 'n2', 'n1 hidden');
  assert.equal(state.snapshot.unreadCount, 1);
});

test('inbox state: snoozes waking by time bring the items back', async (t) => {
  const fake = await fakeHerald(t);
  let awake = false;
  fake.list = () => ({ items: awake ? [item('n2'), item('n1')] : [item('n2')], next_cursor: null, unread_count: awake ? 2 : 1 });
  const { state } = await followed(t, fake);
  await waitFor(() => ids(state).join() === 'n2', 'n1 asleep');
  awake = true;
  fake.send('notification.updated', {
    ids: ['n1'], status: null, archived: null, seen: null, all: false, snoozed_until: null, unread_count: 2, notification: null,
  });
  await waitFor(() => ids(state).join() === 'n2,n1', 'n1 back');
  assert.equal(state.snapshot.unreadCount, 2);
});

test('inbox state: the snoozed view drops items that woke', async (t) => {
  const fake = await fakeHerald(t);
  fake.list = () => ({ items: [item('n1', { snoozed_until: later(3_600_000) })], next_cursor: null, unread_count: 0 });
  const { state } = await followed(t, fake, { status: 'snoozed' });
  await waitFor(() => ids(state).join() === 'n1', 'n1 snoozed');
  assert.equal(fake.requests.find((r) => r.url.startsWith('/v1/notifications?'))?.url, '/v1/notifications?status=snoozed&limit=50');
  fake.send('notification.updated', {
    ids: ['n1'], status: null, archived: null, seen: null, all: false, snoozed_until: null, unread_count: 1, notification: null,
  });
  await waitFor(() => state.snapshot.items.length === 0 && state.snapshot.unreadCount === 1, 'n1 left the snoozed view');
});

test('inbox state: a new mute hides topic items of that type at once', async (t) => {
  const fake = await fakeHerald(t);
  let muted = false;
  const promo = item('n2', { recipient: null, topic: 'broadcast', type: 'promo' });
  // After the mute the server is slow to answer the reload: the promo must go before it does.
  fake.list = () => (muted ? undefined : { items: [promo, item('n1')], next_cursor: null, unread_count: 2 });
  const { state } = await followed(t, fake);
  await waitFor(() => ids(state).join() === 'n2,n1', 'both items');
  muted = true;
  fake.send('preferences.updated', { muted_types: ['promo'], unread_count: 1 });
  await waitFor(() => ids(state).join() === 'n1', 'the promo is hidden');
  assert.deepEqual(state.snapshot.mutedTypes, ['promo']);
  assert.equal(state.snapshot.unreadCount, 1);
});

test('inbox state: a mute prefix hides every topic type under it but not private items', async (t) => {
  const fake = await fakeHerald(t);
  const like = item('n3', { recipient: null, topic: 'broadcast', type: 'social.like' });
  const mine = item('n2', { type: 'social.comment' });
  fake.list = () => ({ items: [like, mine, item('n1')], next_cursor: null, unread_count: 3 });
  const { state } = await followed(t, fake);
  await waitFor(() => state.snapshot.items.length === 3, 'three items');
  fake.list = () => undefined;
  fake.send('preferences.updated', { muted_types: ['social.*'], unread_count: 2 });
  await waitFor(() => ids(state).join() === 'n2,n1', 'the topic item under social. is hidden');
});

test('inbox state: an item past its expires_at leaves the list even while no event comes', async (t) => {
  const fake = await fakeHerald(t);
  const clock = new ManualClock(Date.now());
  const expiresAt = new Date(clock.now() + 60_000).toISOString();
  fake.list = () => ({ items: [item('n2', { expires_at: expiresAt }), item('n1')], next_cursor: null, unread_count: 2 });
  const { state } = await followed(t, fake, {}, clock);
  await waitFor(() => state.snapshot.items.length === 2, 'two items');
  clock.advance(59_000);
  assert.deepEqual(ids(state), ['n2', 'n1']);
  clock.advance(1_000);
  assert.deepEqual(ids(state), ['n1']);
});

test('inbox state: a live notification of another type or status than the filter stays out', async (t) => {
  const fake = await fakeHerald(t);
  const { state } = await followed(t, fake, { archived: true });
  fake.send('notification', { ...notification('n9', 3) }, 'e.9');
  await waitFor(() => state.snapshot.unreadCount === 3, 'count follows');
  assert.deepEqual(ids(state), []);
});

test('inbox state: a page answered after a live arrival keeps the arrival and its newer count', async (t) => {
  const fake = await fakeHerald(t);
  fake.list = () => ({ items: [item('n1')], next_cursor: null, unread_count: 1 });
  const { state } = await followed(t, fake);
  // The next page is read before n2 is published, and answered after n2's event arrived.
  let answer = (): void => {};
  fake.list = () => new Promise((resolve) => {
    answer = () => resolve({ items: [item('n1')], next_cursor: null, unread_count: 1 });
  });
  const lists = () => fake.requests.filter((request) => request.url.startsWith('/v1/notifications?')).length;
  const before = lists();
  const reloading = state.reload();
  await waitFor(() => lists() === before + 1, 'the reload asked');
  fake.send('notification', { ...notification('n2', 2), created_at: '2030-01-01T00:00:00.000Z' }, 'e.2');
  await waitFor(() => state.snapshot.unreadCount === 2, 'the arrival counted');
  answer();
  await reloading;
  assert.deepEqual(ids(state), ['n2', 'n1']);
  assert.equal(state.snapshot.unreadCount, 2);
});

test('inbox state: load more appends the next page', async (t) => {
  const fake = await fakeHerald(t);
  fake.list = (query) =>
    query.get('cursor') === 'c2'
      ? { items: [item('n1', { created_at: '2026-11-26T14:00:00.000Z' })], next_cursor: null, unread_count: 2 }
      : { items: [item('n2')], next_cursor: 'c2', unread_count: 2 };
  const { state } = await followed(t, fake);
  await waitFor(() => state.snapshot.hasMore, 'a next page');
  await state.loadMore();
  assert.deepEqual(ids(state), ['n2', 'n1']);
  assert.equal(state.snapshot.hasMore, false);
});

test('inbox state: every tab of a shared stream follows an expiry and its count', async (t) => {
  const fake = await fakeHerald(t);
  fake.list = () => ({ items: [item('n2'), item('n1')], next_cursor: null, unread_count: 2 });
  const key = `alice-${randomUUID()}`;
  const held = new Set<string>();
  const queue: Array<() => void> = [];
  // One exclusive lock (Web Locks in miniature): the first tab leads, the second waits.
  const locks = {
    request: (name: string, callback: () => unknown) =>
      new Promise<void>((resolve) => {
        const run = () => {
          held.add(name);
          void Promise.resolve().then(callback).finally(() => {
            held.delete(name);
            queue.shift()?.();
            resolve();
          });
        };
        if (held.has(name)) queue.push(run);
        else run();
      }),
  } as unknown as LockManager;
  const tabs: Array<{ stream: NotificationStream; state: InboxState }> = [];
  for (let i = 0; i < 2; i += 1) {
    const stream = new SharedHeraldStream({ url: fake.url, key, locks, minDelayMs: 10, maxDelayMs: 20 });
    const state = new InboxState({ inbox: new HeraldInbox({ url: fake.url }), stream });
    tabs.push({ stream, state });
    stream.start();
  }
  t.after(() => {
    for (const tab of tabs) {
      tab.state.dispose();
      tab.stream.close();
    }
  });
  await waitFor(() => fake.streams() === 1 && tabs.every((tab) => tab.stream.state === 'open'), 'one stream, both tabs open');
  for (const tab of tabs) await tab.state.start();
  fake.send('notification.expired', { ids: ['n2'], unread_count: 1 });
  for (const [i, tab] of tabs.entries()) {
    await waitFor(() => ids(tab.state).join() === 'n1' && tab.state.snapshot.unreadCount === 1, `tab ${i} dropped n2`);
  }
});

test('inbox state: the snoozed view drops an item when its snooze ends, even while no event comes', async (t) => {
  const fake = await fakeHerald(t);
  const clock = new ManualClock(Date.now());
  const until = new Date(clock.now() + 60_000).toISOString();
  fake.list = () => ({ items: [item('n1', { snoozed_until: until })], next_cursor: null, unread_count: 0 });
  const { state } = await followed(t, fake, { status: 'snoozed' }, clock);
  await waitFor(() => ids(state).join() === 'n1', 'n1 snoozed');
  clock.advance(59_000);
  assert.deepEqual(ids(state), ['n1']);
  clock.advance(1_000);
  assert.deepEqual(ids(state), []);
});

test('publishBatch posts the items as {"notifications": [...]} and resolves with each item\'s result in order', async (t) => {
  const fake = await fakeHerald(t);
  const stored = { status: 202, notifications: [notification('n1')], suppressed: [] };
  const refused = { status: 400, error: { code: 'invalid_request', message: 'content: Expected string.' } };
  fake.routes.set('POST /v1/notifications/batch', (res) => json(res, 200, { results: [stored, refused] }));
  const items = [{ recipients: ['alice'], type: 'digest', content: 'hi' }, { recipients: ['bob'], type: 'digest', content: '' }];
  const results = await new HeraldInbox({ url: fake.url }).publishBatch(items);
  assert.deepEqual(results, [stored, refused]);
  assert.deepEqual(fake.requests.at(-1), { method: 'POST', url: '/v1/notifications/batch', body: { notifications: items } });
});

test('publishBatch of a batch refused as a whole rejects with the server\'s code', async (t) => {
  const fake = await fakeHerald(t);
  fake.routes.set('POST /v1/notifications/batch', (res) => json(res, 400, { error: { code: 'invalid_request', message: 'At most 500 notifications per batch' } }));
  await assert.rejects(new HeraldInbox({ url: fake.url }).publishBatch([]), { code: 'invalid_request', status: 400 });
});

test('publish posts one body and resolves with what was stored', async (t) => {
  const fake = await fakeHerald(t);
  const answer = { notifications: [notification('n1')], suppressed: [] };
  fake.routes.set('POST /v1/notifications', (res) => json(res, 202, answer));
  const body = { recipients: ['alice'], type: 'alert', content: 'hi' };
  assert.deepEqual(await new HeraldInbox({ url: fake.url }).publish(body), answer);
  assert.deepEqual(fake.requests.at(-1), { method: 'POST', url: '/v1/notifications', body });
});
