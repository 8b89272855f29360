// Expiry over HTTP and a stream, on both stores: listed until expires_at, then gone from
// the list, the count and replay, and open streams are told.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { call, heraldOn, inMs, STORES } from './store-backends.js';

for (const store of STORES) {
  describe(`expiry on ${store}`, () => {
    test('an expiring notification is listed until its time, then open streams get notification.expired and the count drops', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('alice', { scope: 'subscribe' });
      const stream = await openStream(herald.url, token);
      t.after(() => stream.close());
      await stream.waitForEvents('ready', 1);
      const expiresAt = inMs(5_000);
      const published = await herald.publish({ recipients: ['alice'], type: 'offer', content: 'flash sale', expires_at: expiresAt });
      assert.equal(published.body.notifications[0].expires_at, expiresAt);
      await herald.publish({ recipients: ['alice'], type: 'offer', content: 'kept' });
      const [live] = await stream.waitForEvents('notification', 1);
      assert.equal(live?.data.expires_at, expiresAt);
      assert.equal((await call(herald, 'GET', '/v1/notifications', token)).body.items.length, 2);

      const [expired] = await stream.waitForEvents('notification.expired', 1, 20_000);
      assert.ok(Date.now() >= Date.parse(expiresAt), 'not before expires_at');
      assert.deepEqual(expired?.data, { ids: [published.body.notifications[0].id], unread_count: 1 });
      const inbox = await call(herald, 'GET', '/v1/notifications', token);
      assert.deepEqual(inbox.body.items.map((n: { content: string }) => n.content), ['kept']);
      assert.equal(inbox.body.unread_count, 1);
    });

    test('an expired notification is not replayed to a stream resuming from before it', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('bob', { scope: 'subscribe' });
      const first = await openStream(herald.url, token);
      const [ready] = await first.waitForEvents('ready', 1);
      first.close();
      await herald.publish({ recipients: ['bob'], type: 'offer', content: 'gone', expires_at: inMs(1_500) });
      await herald.publish({ recipients: ['bob'], type: 'offer', content: 'kept' });
      await waitFor(async () => (await call(herald, 'GET', '/v1/notifications', token)).body.items.length === 1, 'the notification to expire');

      const resumed = await openStream(herald.url, token, { lastEventId: ready?.id });
      t.after(() => resumed.close());
      await resumed.waitForEvents('notification', 1);
      await herald.publish({ recipients: ['bob'], type: 'offer', content: 'next' });
      await resumed.waitForEvents('notification', 2);
      assert.deepEqual(resumed.of('notification').map((e) => e.data.content), ['kept', 'next']);
    });
  });
}

test('an expires_at in the past is 400 invalid_time', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const res = await herald.publish({ recipients: ['alice'], type: 'n', content: 'x', expires_at: inMs(-1_000) });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'invalid_time');
});
