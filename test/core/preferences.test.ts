// Preferences in one process, where the order of hints, snapshots and events is steered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BusMessage } from '../../src/bus/bus.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { gate, overrideStore, startCore, type CoreHerald } from './harness.js';

async function putPreferences(herald: CoreHerald, token: string, mutedTypes: string[]): Promise<number> {
  const res = await herald.app.inject({
    method: 'PUT', url: '/v1/preferences',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ muted_types: mutedTypes }),
  });
  return res.statusCode;
}

test('a change of preferences whose hint the bus lost is told when the bus resyncs, with the new count', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  await herald.publish({ topic: 'broadcast', type: 'promo', content: 'sale' });
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  assert.equal((await stream.waitForEvents('ready', 1))[0]?.data.unread_count, 1);
  herald.bus.filter = (m: BusMessage) => (m.kind === 'updated' ? 'drop' : 'deliver');
  assert.equal(await putPreferences(herald, token, ['promo']), 200);
  herald.bus.resync();
  const [updated] = await stream.waitForEvents('preferences.updated', 1);
  assert.deepEqual(updated?.data, { muted_types: ['promo'], unread_count: 0 });
});

test('a change of preferences while a stream opens is held until ready and filters from the first event', async (t) => {
  const held = gate();
  let holdSnapshots = false;
  let heldOne = false;
  const herald = await startCore({
    wrapStore: (store) => overrideStore(store, {
      async unreadSnapshot(audience) {
        // The opening stream's snapshot is read before the change and answered after it.
        const snapshot = await store.unreadSnapshot(audience);
        if (holdSnapshots && !heldOne) {
          heldOne = true;
          await held.promise;
        }
        return snapshot;
      },
    }),
  });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  holdSnapshots = true;
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await waitFor(() => heldOne, 'the stream\'s snapshot to be read');
  assert.equal(await putPreferences(herald, token, ['promo']), 200);
  await herald.publish({ topic: 'broadcast', type: 'promo', content: 'muted' });
  await herald.publish({ topic: 'broadcast', type: 'alert', content: 'shown' });
  held.open();
  const [event] = await stream.waitForEvents('notification', 1);
  assert.deepEqual([event?.data.content, event?.data.unread_count], ['shown', 1]);
  const order = stream.events.map((e) => e.event);
  assert.deepEqual(order.slice(0, 3), ['ready', 'preferences.updated', 'notification']);
  assert.deepEqual(stream.of('preferences.updated')[0]?.data, { muted_types: ['promo'], unread_count: 1 });
});

test('a live broadcast of a muted type is dropped and the next one carries the exact count and a resumable cursor', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  assert.equal(await putPreferences(herald, token, ['promo']), 200);
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  await herald.publish({ topic: 'broadcast', type: 'alert', content: 'one' });
  await herald.publish({ topic: 'broadcast', type: 'promo', content: 'muted' });
  await herald.publish({ topic: 'broadcast', type: 'alert', content: 'two' });
  const events = await stream.waitForEvents('notification', 2);
  assert.deepEqual(events.map((e) => [e.data.content, e.data.unread_count]), [['one', 1], ['two', 2]]);
  assert.equal(await herald.metric('herald_replayed_total'), 0, 'the muted one did not make the stream read a gap from the store');
  const resumed = await openStream(herald.url, token, { lastEventId: stream.lastId() });
  t.after(() => resumed.close());
  await resumed.waitForEvents('ready', 1);
  await herald.publish({ topic: 'broadcast', type: 'alert', content: 'three' });
  assert.deepEqual((await resumed.waitForEvents('notification', 1)).map((e) => e.data.content), ['three']);
  assert.equal(resumed.of('reset').length, 0);
});
