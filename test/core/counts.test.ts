// The unread count every event carries: exact on every stream, whatever the bus does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BusMessage } from '../../src/bus/bus.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { gate, overrideStore, startCore, type CoreHerald } from './harness.js';

async function databaseCount(herald: CoreHerald, token: string): Promise<number> {
  return (await herald.request('GET', '/v1/notifications/unread-count', token)).body.unread_count as number;
}

test('inbox-change hints that arrive in reverse order leave every stream at the database\'s count', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const ids: string[] = [];
  for (const content of ['a', 'b']) ids.push((await herald.publish({ recipients: ['alice'], type: 'n', content })).body.notifications[0].id);
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  herald.bus.filter = (m: BusMessage) => (m.kind === 'updated' ? 'hold' : 'deliver');
  for (const id of ids) assert.equal((await herald.request('PATCH', `/v1/notifications/${id}`, token, { status: 'read' })).status, 200);
  herald.bus.release((held) => held.reverse());
  const updates = await stream.waitForEvents('notification.updated', 2);
  assert.equal(await databaseCount(herald, token), 0);
  assert.equal(updates.at(-1)?.data.unread_count, 0);
});

test('an inbox-change hint the bus lost is made good when the bus resyncs', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const { body } = await herald.publish({ recipients: ['alice'], type: 'n', content: 'a' });
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  const [ready] = await stream.waitForEvents('ready', 1);
  assert.equal(ready?.data.unread_count, 1);
  herald.bus.filter = (m: BusMessage) => (m.kind === 'updated' ? 'drop' : 'deliver');
  await herald.request('PATCH', `/v1/notifications/${body.notifications[0].id}`, token, { status: 'read' });
  herald.bus.resync();
  const [update] = await stream.waitForEvents('notification.updated', 1);
  assert.equal(update?.data.unread_count, 0);
  assert.deepEqual(update?.data.ids, []);
});

test('a recount that finishes after a newer one does not put the older count back', async (t) => {
  const slow = gate();
  let holdNextSnapshot = false;
  let sawHeld = false;
  const herald = await startCore({
    wrapStore: (store) => overrideStore(store, {
      async unreadSnapshot(audience) {
        const snapshot = await store.unreadSnapshot(audience);
        if (holdNextSnapshot) {
          holdNextSnapshot = false;
          sawHeld = true;
          await slow.promise;
        }
        return snapshot;
      },
    }),
  });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const ids: string[] = [];
  for (const content of ['a', 'b']) ids.push((await herald.publish({ recipients: ['alice'], type: 'n', content })).body.notifications[0].id);
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  // The hub's recount for the first change reads 1 unread and is held; the second reads 0.
  herald.bus.filter = (m: BusMessage) => (m.kind === 'updated' ? 'hold' : 'deliver');
  await herald.request('PATCH', `/v1/notifications/${ids[0]}`, token, { status: 'read' });
  holdNextSnapshot = true;
  herald.bus.release();
  await waitFor(() => sawHeld, 'the first recount to start');
  await herald.request('PATCH', `/v1/notifications/${ids[1]}`, token, { status: 'read' });
  herald.bus.release();
  await stream.waitForEvents('notification.updated', 1);
  slow.open();
  const updates = await stream.waitForEvents('notification.updated', 2);
  assert.deepEqual(updates.map((u) => u.data.unread_count), [0, 0]);
});

test('an inbox change made while a stream is opening reaches it after ready, with the new count', async (t) => {
  const opening = gate();
  const proceed = gate();
  let holdNext = false;
  const herald = await startCore({
    wrapStore: (store) => overrideStore(store, {
      async unreadSnapshot(audience) {
        const snapshot = await store.unreadSnapshot(audience);
        if (holdNext) {
          holdNext = false;
          opening.open();
          await proceed.promise;
        }
        return snapshot;
      },
    }),
  });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const { body } = await herald.publish({ recipients: ['alice'], type: 'n', content: 'a' });
  holdNext = true;
  const streamPromise = openStream(herald.url, token);
  await opening.promise;
  await herald.request('PATCH', `/v1/notifications/${body.notifications[0].id}`, token, { status: 'read' });
  proceed.open();
  const stream = await streamPromise;
  t.after(() => stream.close());
  const [update] = await stream.waitForEvents('notification.updated', 1);
  assert.deepEqual(stream.events.map((e) => e.event), ['ready', 'notification.updated']);
  assert.equal(stream.events[0]?.data.unread_count, 1, 'ready carries the snapshot read before the change');
  assert.equal(update?.data.unread_count, 0);
});

test('new notifications raise the count by one on every open tab of the user', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const tabs = [await openStream(herald.url, token), await openStream(herald.url, token)];
  t.after(() => tabs.forEach((tab) => tab.close()));
  for (const tab of tabs) await tab.waitForEvents('ready', 1);
  for (const content of ['a', 'b', 'c']) await herald.publish({ recipients: ['alice'], type: 'n', content });
  for (const tab of tabs) {
    const events = await tab.waitForEvents('notification', 3);
    assert.deepEqual(events.map((e) => e.data.unread_count), [1, 2, 3]);
  }
});

test('a node told by the bus that another node\'s retention deleted notifications corrects its streams\' counts', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const { body } = await herald.publish({ recipients: ['alice'], type: 'n', content: 'old' });
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'recent' });
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  const [ready] = await stream.waitForEvents('ready', 1);
  assert.equal(ready?.data.unread_count, 2);
  const id = body.notifications[0].id as string;
  // What the purging node did to the shared database, and then told the others.
  await herald.store.retention().purgeNotifications(new Date(Date.now() + 1000), 1);
  await herald.bus.publish({ kind: 'removed', notifications: [{ id, topic: 'user:alice' }] });
  const [removed] = await stream.waitForEvents('notification.expired', 1);
  assert.deepEqual(removed?.data, { ids: [id], unread_count: 1 });
});
