// Scheduled delivery over HTTP and a stream, on both stores: accepted now, invisible until
// due, then delivered once; cancelled before; delivered at start when due while stopped.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { call, heraldOn, inMs, STORES } from './store-backends.js';

for (const store of STORES) {
  describe(`scheduled delivery on ${store}`, () => {
    test('a scheduled notification is answered with its deliver_at, invisible until due, then streamed once', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('alice', { scope: 'subscribe' });
      const stream = await openStream(herald.url, token);
      t.after(() => stream.close());
      await stream.waitForEvents('ready', 1);
      const deliverAt = inMs(5_000);
      const published = await herald.publish({ recipients: ['alice'], type: 'reminder', content: 'stand-up', deliver_at: deliverAt });
      assert.equal(published.status, 202);
      const [accepted] = published.body.notifications;
      assert.equal(accepted.deliver_at, deliverAt);
      assert.equal(accepted.recipient, 'alice');

      const inbox = await call(herald, 'GET', '/v1/notifications', token);
      assert.deepEqual(inbox.body.items, []);
      assert.equal(inbox.body.unread_count, 0);
      const [event] = await stream.waitForEvents('notification', 1, 20_000);
      assert.ok(Date.now() >= Date.parse(deliverAt), 'not streamed before deliver_at');
      assert.equal(event?.data.id, accepted.id);
      assert.equal(event?.data.unread_count, 1);
      const after = await call(herald, 'GET', '/v1/notifications', token);
      assert.deepEqual(after.body.items.map((n: { id: string }) => n.id), [accepted.id]);
      assert.equal(stream.of('notification').length, 1);
    });

    test('a cancelled notification answers 204 and never arrives', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('bob', { scope: 'subscribe' });
      const publisher = await herald.token('publisher', { scope: 'publish' });
      const stream = await openStream(herald.url, token);
      t.after(() => stream.close());
      await stream.waitForEvents('ready', 1);
      const cancelled = await herald.publish({ recipients: ['bob'], type: 'n', content: 'cancelled', deliver_at: inMs(4_000) }, publisher);
      // Due later than the cancelled one: once it arrives, the cancelled one would have too.
      await herald.publish({ recipients: ['bob'], type: 'n', content: 'kept', deliver_at: inMs(5_000) }, publisher);
      const cancel = await call(herald, 'DELETE', `/v1/notifications/${cancelled.body.notifications[0].id}`, publisher);
      assert.equal(cancel.status, 204);
      await stream.waitForEvents('notification', 1, 20_000);
      assert.deepEqual(stream.of('notification').map((e) => e.data.content), ['kept']);
    });

    test('POST /v1/notifications/cancel with an idempotency key cancels every copy that publish scheduled', async (t) => {
      const herald = await heraldOn(store, t);
      const publisher = await herald.token('publisher', { scope: 'publish' });
      const recipients = Array.from({ length: 50 }, (_, i) => `member-${i}`);
      const campaign = await herald.publish({ recipients, type: 'n', content: 'campaign', deliver_at: inMs(3_600_000), idempotency_key: 'campaign-1' }, publisher);
      const ids = campaign.body.notifications.map((n: { id: string }) => n.id).sort();
      const cancel = await call(herald, 'POST', '/v1/notifications/cancel', publisher, { idempotency_key: 'campaign-1' });
      assert.equal(cancel.status, 200);
      assert.deepEqual([...cancel.body.cancelled].sort(), ids);
      assert.deepEqual([cancel.body.already_delivered, cancel.body.expired, cancel.body.not_found], [[], [], []]);
      const again = await call(herald, 'POST', '/v1/notifications/cancel', publisher, { idempotency_key: 'campaign-1' });
      assert.deepEqual(again.body.cancelled, []);
      assert.equal(again.body.not_found.length, 50);
    });

    test('POST /v1/notifications/cancel with ids answers each id\'s outcome, and another publisher\'s ids as not found', async (t) => {
      const herald = await heraldOn(store, t);
      const publisher = await herald.token('publisher', { scope: 'publish' });
      const other = await herald.token('other-app', { scope: 'publish' });
      const waiting = await herald.publish({ recipients: ['gus'], type: 'n', content: 'later', deliver_at: inMs(3_600_000) }, publisher);
      const sent = await herald.publish({ recipients: ['gus'], type: 'n', content: 'now' }, publisher);
      const theirs = await herald.publish({ recipients: ['gus'], type: 'n', content: 'theirs', deliver_at: inMs(3_600_000) }, other);
      const [waitingId, sentId, theirId] = [waiting, sent, theirs].map((p) => p.body.notifications[0].id as string);
      const cancel = await call(herald, 'POST', '/v1/notifications/cancel', publisher, { ids: [waitingId, sentId, theirId] });
      assert.equal(cancel.status, 200);
      assert.deepEqual(cancel.body, { cancelled: [waitingId], already_delivered: [sentId], expired: [], not_found: [theirId] });
    });

    test('POST /v1/notifications/cancel with an unknown idempotency key answers 404 not_found', async (t) => {
      const herald = await heraldOn(store, t);
      const publisher = await herald.token('publisher', { scope: 'publish' });
      const cancel = await call(herald, 'POST', '/v1/notifications/cancel', publisher, { idempotency_key: 'never-used' });
      assert.equal(cancel.status, 404);
      assert.equal(cancel.body.error.code, 'not_found');
      assert.match(cancel.body.error.message, /never-used/);
    });

    test('replaying the key of a scheduled publish after one copy was cancelled reports no recipient as suppressed', async (t) => {
      const herald = await heraldOn(store, t);
      const publisher = await herald.token('publisher', { scope: 'publish' });
      const body = { recipients: ['erin', 'frank'], type: 'n', content: 'later', deliver_at: inMs(3_600_000), idempotency_key: 'sched-1' };
      const first = await herald.publish(body, publisher);
      assert.deepEqual(first.body.suppressed, []);
      const erin = first.body.notifications.find((n: { recipient: string }) => n.recipient === 'erin');
      assert.equal((await call(herald, 'DELETE', `/v1/notifications/${erin.id}`, publisher)).status, 204);
      const replay = await herald.publish(body, publisher);
      assert.equal(replay.status, 202);
      assert.deepEqual(replay.body.suppressed, []);
      assert.deepEqual(replay.body.notifications.map((n: { recipient: string }) => n.recipient), ['frank']);
    });

    test('a publisher past HERALD_MAX_SCHEDULED_PER_PUBLISHER pending rows gets 409 scheduled_quota_exceeded; a cancel makes room', async (t) => {
      const herald = await heraldOn(store, t, { HERALD_MAX_SCHEDULED_PER_PUBLISHER: '3' });
      const publisher = await herald.token('publisher', { scope: 'publish' });
      const later = inMs(3_600_000);
      const first = await herald.publish({ recipients: ['a', 'b'], type: 'n', content: 'x', deliver_at: later }, publisher);
      assert.equal(first.status, 202);
      const over = await herald.publish({ recipients: ['c', 'd'], type: 'n', content: 'x', deliver_at: later }, publisher);
      assert.equal(over.status, 409);
      assert.equal(over.body.error.code, 'scheduled_quota_exceeded');
      const other = await herald.publish({ recipients: ['c', 'd'], type: 'n', content: 'x', deliver_at: later }, await herald.token('another', { scope: 'publish' }));
      assert.equal(other.status, 202, 'the quota is per publisher');
      assert.equal((await call(herald, 'DELETE', `/v1/notifications/${first.body.notifications[0].id}`, publisher)).status, 204);
      assert.equal((await herald.publish({ recipients: ['c', 'd'], type: 'n', content: 'x', deliver_at: later }, publisher)).status, 202);
    });

    test('cancelling a delivered notification answers 409 already_delivered', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('carol', { scope: 'subscribe' });
      const publisher = await herald.token('publisher', { scope: 'publish' });
      const stream = await openStream(herald.url, token);
      t.after(() => stream.close());
      await stream.waitForEvents('ready', 1);
      // A deliver_at already past means now.
      const published = await herald.publish({ recipients: ['carol'], type: 'n', content: 'now', deliver_at: inMs(-60_000) }, publisher);
      await stream.waitForEvents('notification', 1);
      const cancel = await call(herald, 'DELETE', `/v1/notifications/${published.body.notifications[0].id}`, publisher);
      assert.equal(cancel.status, 409);
      assert.equal(cancel.body.error.code, 'already_delivered');
    });

    test('another publisher cannot cancel: 404, as for an unknown id', async (t) => {
      const herald = await heraldOn(store, t);
      const owner = await herald.token('billing', { scope: 'publish' });
      const other = await herald.token('marketing', { scope: 'publish' });
      const published = await herald.publish({ recipients: ['dave'], type: 'n', content: 'x', deliver_at: inMs(3_600_000) }, owner);
      const path = `/v1/notifications/${published.body.notifications[0].id}`;
      const refused = await call(herald, 'DELETE', path, other);
      assert.equal(refused.status, 404);
      assert.equal(refused.body.error.code, 'not_found');
      assert.equal((await call(herald, 'DELETE', path, owner)).status, 204, 'it was there for its publisher');
    });

    test('a due time that passed while Herald was stopped is delivered at start', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('erin', { scope: 'subscribe' });
      const first = await openStream(herald.url, token);
      const [ready] = await first.waitForEvents('ready', 1);
      first.close();
      const deliverAt = inMs(4_000);
      const published = await herald.publish({ recipients: ['erin'], type: 'n', content: 'while down', deliver_at: deliverAt });
      await herald.kill();
      await waitFor(() => Date.now() > Date.parse(deliverAt), 'the due time to pass while stopped');
      await herald.restart();
      const resumed = await openStream(herald.url, token, { lastEventId: ready?.id });
      t.after(() => resumed.close());
      const [event] = await resumed.waitForEvents('notification', 1);
      assert.equal(event?.data.id, published.body.notifications[0].id);
    });

    test('one whose expiry passed while Herald was stopped is dropped at start, and cancelling it answers 410 expired_before_delivery', async (t) => {
      const herald = await heraldOn(store, t);
      const token = await herald.token('frank', { scope: 'subscribe' });
      const publisher = await herald.token('publisher', { scope: 'publish' });
      const first = await openStream(herald.url, token);
      const [ready] = await first.waitForEvents('ready', 1);
      first.close();
      const expiresAt = inMs(3_000);
      const published = await herald.publish({ recipients: ['frank'], type: 'n', content: 'too late', deliver_at: inMs(2_000), expires_at: expiresAt }, publisher);
      assert.equal(published.status, 202);
      await herald.kill();
      await waitFor(() => Date.now() > Date.parse(expiresAt), 'both times to pass while stopped');
      await herald.restart();
      await herald.publish({ recipients: ['frank'], type: 'n', content: 'after restart' }, publisher);
      const resumed = await openStream(herald.url, token, { lastEventId: ready?.id });
      t.after(() => resumed.close());
      await resumed.waitForEvents('notification', 1);
      assert.deepEqual(resumed.of('notification').map((e) => e.data.content), ['after restart']);
      const cancel = await call(herald, 'DELETE', `/v1/notifications/${published.body.notifications[0].id}`, publisher);
      assert.deepEqual([cancel.status, cancel.body.error.code], [410, 'expired_before_delivery']);
      const inbox = await call(herald, 'GET', '/v1/notifications', token);
      assert.deepEqual(inbox.body.items.map((n: { content: string }) => n.content), ['after restart']);
    });
  });
}

describe('scheduled delivery: bad input', () => {
  const ok = { recipients: ['alice'], type: 'n', content: 'x' };
  let herald: Awaited<ReturnType<typeof startHerald>>;
  before(async () => {
    herald = await startHerald();
  });
  after(() => herald.stop());

  test('a malformed deliver_at is 400 invalid_time', async () => {
    const res = await herald.publish({ ...ok, deliver_at: '2026-13-01T00:00:00Z' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_time');
  });

  test('a deliver_at without an offset is 400 invalid_time', async () => {
    const res = await herald.publish({ ...ok, deliver_at: '2030-01-01T00:00:00' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_time');
  });

  test('a deliver_at more than 366 days ahead is 400 invalid_time', async () => {
    const res = await herald.publish({ ...ok, deliver_at: inMs(367 * 24 * 3600 * 1000) });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_time');
  });

  test('a deliver_at at or after expires_at is 400 deliver_after_expiry', async () => {
    const at = inMs(3_600_000);
    const res = await herald.publish({ ...ok, deliver_at: at, expires_at: at });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'deliver_after_expiry');
  });
});
