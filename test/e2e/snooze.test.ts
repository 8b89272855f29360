// Snooze over HTTP and a stream, on both stores: hidden from the default list and the
// count while snoozed, listed under status=snoozed, back when it wakes (by time or null).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HeraldProcess } from '../helpers/herald.js';
import { startHerald } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { call, heraldOn, inMs, STORES } from './store-backends.js';

async function published(herald: HeraldProcess, user: string, content: string): Promise<string> {
  return (await herald.publish({ recipients: [user], type: 'task', content })).body.notifications[0].id as string;
}

const ids = (body: { items: Array<{ id: string }> }) => body.items.map((n) => n.id);

for (const store of STORES) {
  describe(`snooze on ${store}`, () => {
    test('a snoozed notification leaves the default list and the count, is listed under status=snoozed, and other tabs hear it', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('alice', { scope: 'subscribe' });
      const id = await published(herald, 'alice', 'later');
      const other = await published(herald, 'alice', 'now');
      const tab = await openStream(herald.url, token);
      t.after(() => tab.close());
      await tab.waitForEvents('ready', 1);
      const until = inMs(3_600_000);
      const patched = await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { snoozed_until: until });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.notification.snoozed_until, until);
      assert.equal(patched.body.unread_count, 1);
      const [update] = await tab.waitForEvents('notification.updated', 1);
      assert.deepEqual([update?.data.ids, update?.data.snoozed_until, update?.data.unread_count], [[id], until, 1]);
      assert.deepEqual(ids((await call(herald, 'GET', '/v1/notifications', token)).body), [other]);
      assert.deepEqual(ids((await call(herald, 'GET', '/v1/notifications?status=unread', token)).body), [other]);
      assert.deepEqual(ids((await call(herald, 'GET', '/v1/notifications?status=snoozed', token)).body), [id]);
      assert.equal((await call(herald, 'GET', '/v1/notifications/unread-count', token)).body.unread_count, 1);
    });

    test('a snooze that ends by time brings the notification back, read state kept, and streams get notification.updated', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('bob', { scope: 'subscribe' });
      const id = await published(herald, 'bob', 'task');
      await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { status: 'read' });
      const unreadOne = await published(herald, 'bob', 'unread');
      // One time for both, so they wake in the same sweep.
      const until = inMs(5_000);
      const snoozeUnread = await call(herald, 'PATCH', `/v1/notifications/${unreadOne}`, token, { snoozed_until: until });
      assert.equal(snoozeUnread.body.unread_count, 0);
      await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { snoozed_until: until });
      const stream = await openStream(herald.url, token);
      t.after(() => stream.close());
      const [ready] = await stream.waitForEvents('ready', 1);
      assert.equal(ready?.data.unread_count, 0);

      const [woken] = await stream.waitForEvents('notification.updated', 1, 20_000);
      assert.ok(Date.now() >= Date.parse(until), 'not before snoozed_until');
      assert.deepEqual({ ...woken?.data, ids: [...(woken?.data.ids as string[])].sort() }, {
        ids: [id, unreadOne].sort(), status: null, archived: null, seen: null, all: false, snoozed_until: null, notification: null, unread_count: 1,
      });
      const inbox = (await call(herald, 'GET', '/v1/notifications', token)).body;
      assert.deepEqual(inbox.items.map((n: { id: string; status: string }) => [n.id, n.status]), [[unreadOne, 'unread'], [id, 'read']]);
    });

    test('snoozed_until null wakes a snoozed notification at once', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('carol', { scope: 'subscribe' });
      const id = await published(herald, 'carol', 'task');
      await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { snoozed_until: inMs(3_600_000) });
      const woken = await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { snoozed_until: null });
      assert.equal(woken.status, 200);
      assert.equal(woken.body.notification.snoozed_until, null);
      assert.equal(woken.body.unread_count, 1);
      assert.deepEqual(ids((await call(herald, 'GET', '/v1/notifications', token)).body), [id]);
    });
  });
}

describe('snooze: bad input', () => {
  test('a malformed snoozed_until is 400 invalid_time', async (t) => {
    const herald = await startHerald();
    t.after(() => herald.stop());
    const token = await herald.token('alice', { scope: 'subscribe' });
    const id = await published(herald, 'alice', 'x');
    const res = await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { snoozed_until: 'tomorrow' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_time');
  });

  test('a snoozed_until more than 366 days ahead is 400 invalid_time', async (t) => {
    const herald = await startHerald();
    t.after(() => herald.stop());
    const token = await herald.token('alice', { scope: 'subscribe' });
    const id = await published(herald, 'alice', 'x');
    const res = await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { snoozed_until: inMs(367 * 24 * 3600 * 1000) });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_time');
  });
});
