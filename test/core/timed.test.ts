// Scheduled delivery, expiry and snooze on the injected clock: what a stream sees exactly
// when the clock passes each time, and not a moment before.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { BusMessage } from '../../src/bus/bus.js';
import { openStream, type TestStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { type CoreHerald, gate, overrideStore, readyStream, startCore } from './harness.js';

function at(herald: CoreHerald, offsetMs: number): string {
  return new Date(herald.clock.now() + offsetMs).toISOString();
}

async function count(herald: CoreHerald, token: string): Promise<number> {
  return (await herald.request('GET', '/v1/notifications/unread-count', token)).body.unread_count as number;
}

/**
 * The stream got exactly `expected` ([content, unread_count] per notification) after an
 * expired one was skipped: the node moved the stream past the expired position itself (it
 * never saw a gap it had to fill from the store), and its cursor resumes without a reset.
 */
async function assertStreamedPastExpired(t: TestContext, herald: CoreHerald, token: string, stream: TestStream, expected: Array<[string, number]>): Promise<void> {
  const events = await stream.waitForEvents('notification', expected.length);
  assert.deepEqual(events.map((e) => [e.data.content, e.data.unread_count]), expected);
  assert.equal(await herald.metric('herald_replayed_total'), 0);
  const resumed = await openStream(herald.url, token, { lastEventId: stream.lastId() });
  t.after(() => resumed.close());
  const [ready] = await resumed.waitForEvents('ready', 1);
  assert.equal(ready?.data.unread_count, expected.at(-1)?.[1]);
  assert.equal(resumed.of('reset').length, 0);
}

test('a scheduled notification reaches the stream when the clock passes deliver_at, not a millisecond before', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const { token, stream } = await readyStream(t, herald, 'alice');
  const published = await herald.publish({ recipients: ['alice'], type: 'reminder', content: 'later', deliver_at: at(herald, 60_000) });
  assert.equal(published.status, 202);

  herald.clock.advance(59_999);
  assert.equal(await herald.scheduler.tick(), 0);
  assert.equal(await count(herald, token), 0);
  assert.deepEqual((await herald.request('GET', '/v1/notifications', token)).body.items, []);
  herald.clock.advance(1);
  assert.equal(await herald.scheduler.tick(), 1);
  const [event] = await stream.waitForEvents('notification', 1);
  assert.equal(event?.data.id, published.body.notifications[0].id);
  assert.equal(event?.data.unread_count, 1);
  assert.equal(stream.of('notification').length, 1);
});

test('a scheduled notification counts as published when it is delivered, not when it is accepted', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  await herald.publish({ recipients: ['alice'], type: 'reminder', content: 'later', deliver_at: at(herald, 1_000) });
  assert.equal(await herald.metric('herald_published_total', 'source="http"'), 0);
  herald.clock.advance(1_000);
  await herald.scheduler.tick();
  assert.equal(await herald.metric('herald_published_total', 'source="scheduled"'), 1);
});

test('a stream resumed across a scheduled delivery gets exactly what it missed, in sequence order', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const first = await openStream(herald.url, token);
  await first.waitForEvents('ready', 1);
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'a' });
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'scheduled', deliver_at: at(herald, 10_000) });
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'c' });
  await first.waitForEvents('notification', 2);
  const cursor = first.lastId() as string;
  first.close();

  herald.clock.advance(10_000);
  await herald.scheduler.tick();
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'd' });
  const resumed = await openStream(herald.url, token, { lastEventId: cursor });
  t.after(() => resumed.close());
  await resumed.waitForEvents('notification', 2);
  assert.deepEqual(resumed.of('notification').map((e) => e.data.content), ['scheduled', 'd']);
  assert.equal(resumed.of('reset').length, 0);
});

test('when a notification expires its streams get notification.expired and the count drops', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const expiring = await herald.publish({ recipients: ['alice'], type: 'offer', content: 'soon gone', expires_at: at(herald, 30_000) });
  await herald.publish({ recipients: ['alice'], type: 'offer', content: 'stays' });
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  const [ready] = await stream.waitForEvents('ready', 1);
  assert.equal(ready?.data.unread_count, 2);

  herald.clock.advance(29_999);
  await herald.dueSweeper.sweep();
  assert.equal(stream.of('notification.expired').length, 0);
  herald.clock.advance(1);
  await herald.dueSweeper.sweep();
  const [expired] = await stream.waitForEvents('notification.expired', 1);
  assert.deepEqual(expired?.data, { ids: [expiring.body.notifications[0].id], unread_count: 1 });
  assert.equal(expired?.id, undefined, 'it does not move the cursor');
  assert.equal(await count(herald, token), 1);
});

test('when more than 100 of a reader\'s notifications expire at once, the event names 100 and says more (not a megabyte per stream)', async (t) => {
  const herald = await startCore({ env: { HERALD_PUBLISH_RATE_PER_MINUTE: '10000' } });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const expiresAt = at(herald, 5_000);
  for (let i = 0; i < 150; i++) await herald.publish({ recipients: ['alice'], type: 'offer', content: `flash ${i}`, expires_at: expiresAt });
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);

  herald.clock.advance(5_000);
  await herald.dueSweeper.sweep();
  const [expired] = await stream.waitForEvents('notification.expired', 1);
  assert.equal(expired?.data.ids.length, 100);
  assert.equal(expired?.data.more, true);
  assert.equal(expired?.data.unread_count, 0);
  assert.equal(stream.of('notification.expired').length, 1);
});

test('an expired notification is not replayed to a stream resuming from before it', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const first = await openStream(herald.url, token);
  const [ready] = await first.waitForEvents('ready', 1);
  first.close();
  await herald.publish({ recipients: ['alice'], type: 'offer', content: 'gone', expires_at: at(herald, 5_000) });
  await herald.publish({ recipients: ['alice'], type: 'offer', content: 'kept' });
  herald.clock.advance(5_000);

  const resumed = await openStream(herald.url, token, { lastEventId: ready?.id });
  t.after(() => resumed.close());
  await resumed.waitForEvents('notification', 1);
  await herald.publish({ recipients: ['alice'], type: 'offer', content: 'next' });
  await resumed.waitForEvents('notification', 2);
  assert.deepEqual(resumed.of('notification').map((e) => e.data.content), ['kept', 'next']);
});

test('a notification that expired before this node fanned it out is not streamed by the gap fill, and the cursor moves past it', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const { token, stream } = await readyStream(t, herald, 'alice');
  // Its hint is lost: the node reads it from the store only when the next hint shows the gap.
  herald.bus.filter = (m: BusMessage) => (m.kind === 'notification' ? 'drop' : 'deliver');
  await herald.publish({ recipients: ['alice'], type: 'offer', content: 'gone', expires_at: at(herald, 5_000) });
  herald.clock.advance(5_000);
  herald.bus.filter = () => 'deliver';
  await herald.publish({ recipients: ['alice'], type: 'offer', content: 'kept' });
  await herald.publish({ recipients: ['alice'], type: 'offer', content: 'next' });

  await assertStreamedPastExpired(t, herald, token, stream, [['kept', 1], ['next', 2]]);
});

test('a notification whose hint the bus held past its expiry is not streamed, and the cursor moves past it', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const { token, stream } = await readyStream(t, herald, 'alice');
  herald.bus.filter = (m: BusMessage) => (m.kind === 'notification' ? 'hold' : 'deliver');
  await herald.publish({ recipients: ['alice'], type: 'offer', content: 'gone', expires_at: at(herald, 5_000) });
  await waitFor(() => herald.bus.held.length === 1, 'the hint to be held');
  herald.clock.advance(5_000);
  herald.bus.filter = () => 'deliver';
  herald.bus.release();
  await herald.publish({ recipients: ['alice'], type: 'offer', content: 'next' });

  await assertStreamedPastExpired(t, herald, token, stream, [['next', 1]]);
});

test('a snooze that ends by time sends notification.updated with the item back in the count', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const { body } = await herald.publish({ recipients: ['alice'], type: 'task', content: 'later please' });
  const id = body.notifications[0].id as string;
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  const until = at(herald, 60_000);
  const patched = await herald.request('PATCH', `/v1/notifications/${id}`, token, { snoozed_until: until });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.unread_count, 0);
  const [snoozed] = await stream.waitForEvents('notification.updated', 1);
  assert.equal(snoozed?.data.snoozed_until, until);
  assert.equal(snoozed?.data.unread_count, 0);

  herald.clock.advance(59_999);
  await herald.dueSweeper.sweep();
  assert.equal(stream.of('notification.updated').length, 1);
  herald.clock.advance(1);
  await herald.dueSweeper.sweep();
  const updates = await stream.waitForEvents('notification.updated', 2);
  assert.deepEqual(updates[1]?.data, {
    ids: [id], status: null, archived: null, seen: null, all: false, snoozed_until: null, notification: null, unread_count: 1,
  });
  assert.equal(await count(herald, token), 1);
});

test('closing the scheduler waits for a delivery in progress to commit', async (t) => {
  const delivering = gate();
  let entered = false;
  let committed = false;
  const herald = await startCore({
    wrapStore: (store) => overrideStore(store, {
      async deliverDue(now, limit) {
        entered = true;
        await delivering.promise;
        const events = await store.deliverDue(now, limit);
        committed = true;
        return events;
      },
    }),
  });
  t.after(() => herald.close());
  herald.scheduler.start();
  await waitFor(() => entered, 'the first look at the table');
  let closed = false;
  const closing = herald.scheduler.close().then(() => {
    closed = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(closed, false);
  delivering.open();
  await closing;
  assert.equal(committed, true);
});
