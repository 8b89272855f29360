// Web Push end to end (README.md, "Web Push"): a Herald process pushes to a stand-in push service that
// checks VAPID and decrypts each push as a real one does. Who gets a push and when (`auto`
// only to a user who did not look during the delay), what it carries, and what the push
// service's answers do, on both stores.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { pushSetup, skipped } from './push-harness.js';
import { call, inMs, STORES } from './store-backends.js';

for (const store of STORES) {
  describe(`Web Push on ${store}`, () => {
    test('an offline user gets exactly one push per subscription after the delay, with the declarative payload and the unread count as badge', async (t) => {
      const { herald, service, subscribe, drained } = await pushSetup(store, t);
      const { subscriptions } = await subscribe('alice', 2);
      const published = Date.now();
      const answer = await herald.publish({ recipients: ['alice'], type: 'comment.mention', title: 'Ana mentioned you', content: 'Look at this', data: { url: 'https://app.example.com/c/1' } });
      const id: string = answer.body.notifications[0].id;
      const pushes = await service.waitForAccepted(2);
      await drained();
      assert.equal(service.received.length, 2);
      assert.deepEqual(pushes.map((p) => p.subscription).sort(), subscriptions.map((s) => s.endpoint.split('/').pop()).sort());
      for (const push of pushes) {
        assert.ok(push.at - published >= 400, `pushed ${push.at - published} ms after the publish, before the delay`);
        assert.deepEqual({ ...push.payload, notification: { ...push.payload.notification, data: { ...push.payload.notification.data, read_token: 'x' } } }, {
          web_push: 8030,
          notification: {
            title: 'Ana mentioned you', body: 'Look at this', navigate: 'https://app.example.com/c/1', tag: id, app_badge: 1,
            data: { id, type: 'comment.mention', read_token: 'x' },
          },
        });
        assert.equal(push.urgency, 'normal');
        assert.equal(push.topic, id.replace(/-/g, ''));
        assert.ok(push.ttl > 86_000 && push.ttl <= 86_400, `TTL ${push.ttl}`);
        assert.equal(push.claims.aud, service.origin);
      }
    });

    test('a user with an open stream gets no push; once the stream closed, the next notification is pushed after the delay', async (t) => {
      const { herald, service, subscribe } = await pushSetup(store, t);
      const { token, subscriptions } = await subscribe('alice');
      const stream = await openStream(herald.url, token);
      await stream.waitForEvents('ready', 1);
      await herald.publish({ recipients: ['alice'], type: 'alert', content: 'while looking' });
      await skipped(herald, 'present');
      await stream.close();
      await waitFor(async () => (await herald.connections()) === 0 || null, 'the stream to close');
      await herald.publish({ recipients: ['alice'], type: 'alert', content: 'while away' });
      const [push] = await service.waitForAccepted(1, subscriptions[0]?.endpoint);
      assert.equal(push?.payload.notification.body, 'while away');
      assert.equal(service.received.length, 1);
    });

    test('a Herald killed with pushes pending sends each once after its restart', async (t) => {
      const { herald, service, subscribe } = await pushSetup(store, t, { HERALD_PUSH_DELAY_MS: '1500' });
      await subscribe('alice');
      await subscribe('bob');
      await herald.publish({ recipients: ['alice', 'bob'], type: 'alert', content: 'one' });
      await herald.publish({ recipients: ['alice'], type: 'alert', content: 'two' });
      await herald.kill();
      assert.equal(service.received.length, 0, 'nothing was sent before the kill');
      await herald.restart();
      await service.waitForAccepted(3);
      await waitFor(async () => (await herald.metric('herald_push_queue_depth')) === 0 || null, 'the push queue to empty');
      assert.deepEqual(service.received.map((p) => p.payload.notification.body).sort(), ['one', 'one', 'two']);
    });

    test('a subscription the push service calls gone (410) is deleted, and nothing more is sent to it', async (t) => {
      const { herald, service, subscribe, drained } = await pushSetup(store, t);
      const { token, subscriptions } = await subscribe('alice');
      service.answer(subscriptions[0]!.endpoint, { status: 410 });
      await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x', push: 'always' });
      await waitFor(async () => (await herald.metric('herald_push_sent_total{result="gone"}')) === 1 || null, 'the 410');
      await drained();
      assert.deepEqual((await call(herald, 'GET', '/v1/push/subscriptions', token)).body, { items: [] });
      await herald.publish({ recipients: ['alice'], type: 'alert', content: 'y', push: 'always' });
      await drained();
      assert.equal(service.received.length, 1);
    });

    test('a push answered 429 with Retry-After, then 201, is sent once, after the wait', async (t) => {
      const { herald, service, subscribe, drained } = await pushSetup(store, t);
      const { subscriptions } = await subscribe('alice');
      service.answer(subscriptions[0]!.endpoint, { status: 429, retryAfterS: 1 });
      await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x', push: 'always' });
      await service.waitForAccepted(1);
      await drained();
      assert.deepEqual(service.received.map((r) => r.status), [429, 201]);
      const [first, second] = service.received;
      assert.ok(second!.at - first!.at >= 1000, `retried ${second!.at - first!.at} ms later`);
      assert.ok(second!.ttl <= first!.ttl, 'the retry sends what is left of the TTL');
    });
  });
}

describe('Web Push: who gets a push (SQLite)', () => {
  test('a notification read during the delay is not pushed', async (t) => {
    const { herald, service, subscribe } = await pushSetup('sqlite', t, { HERALD_PUSH_DELAY_MS: '1000' });
    const { token } = await subscribe('alice');
    const id: string = (await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x' })).body.notifications[0].id;
    assert.equal((await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { status: 'read' })).status, 200);
    await skipped(herald, 'read');
    assert.equal(service.received.length, 0);
  });

  test('a notification seen during the delay is not pushed', async (t) => {
    const { herald, service, subscribe } = await pushSetup('sqlite', t, { HERALD_PUSH_DELAY_MS: '1000' });
    const { token } = await subscribe('alice');
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x' });
    assert.equal((await call(herald, 'POST', '/v1/notifications/seen-all', token, {})).status, 200);
    await skipped(herald, 'seen');
    assert.equal(service.received.length, 0);
  });

  test('a notification archived during the delay is not pushed', async (t) => {
    const { herald, service, subscribe } = await pushSetup('sqlite', t, { HERALD_PUSH_DELAY_MS: '1000' });
    const { token } = await subscribe('alice');
    const id: string = (await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x' })).body.notifications[0].id;
    assert.equal((await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { archived: true })).status, 200);
    await skipped(herald, 'archived');
    assert.equal(service.received.length, 0);
  });

  test('push "always" reaches a user whose stream is open, at once', async (t) => {
    const { herald, service, subscribe } = await pushSetup('sqlite', t, { HERALD_PUSH_DELAY_MS: '60000' });
    const { token } = await subscribe('alice');
    const stream = await openStream(herald.url, token);
    t.after(() => stream.close());
    await stream.waitForEvents('ready', 1);
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'now', push: 'always' });
    const [push] = await service.waitForAccepted(1);
    assert.equal(push?.payload.notification.body, 'now');
  });

  test('push "never" is not pushed', async (t) => {
    const { herald, service, subscribe, drained } = await pushSetup('sqlite', t);
    await subscribe('alice');
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'never', push: 'never' });
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'always', push: 'always' });
    await service.waitForAccepted(1);
    await drained();
    assert.deepEqual(service.received.map((r) => r.payload.notification.body), ['always']);
  });

  test('a muted type is not pushed; a critical one of that type is, with Urgency high', async (t) => {
    const { herald, service, subscribe, drained } = await pushSetup('sqlite', t);
    const { token } = await subscribe('alice');
    assert.equal((await call(herald, 'PUT', '/v1/preferences', token, { muted_types: ['promo'] })).status, 200);
    await herald.publish({ recipients: ['alice'], type: 'promo', content: 'muted', push: 'always' });
    await herald.publish({ recipients: ['alice'], type: 'promo', content: 'critical', critical: true, push: 'always' });
    const [push] = await service.waitForAccepted(1);
    await drained();
    assert.deepEqual(service.received.map((r) => r.payload.notification.body), ['critical']);
    assert.equal(push?.urgency, 'high');
  });

  test('a type muted during the delay is not pushed', async (t) => {
    const { herald, service, subscribe } = await pushSetup('sqlite', t, { HERALD_PUSH_DELAY_MS: '1000' });
    const { token } = await subscribe('alice');
    await herald.publish({ recipients: ['alice'], type: 'promo', content: 'x' });
    assert.equal((await call(herald, 'PUT', '/v1/preferences', token, { muted_types: ['promo'] })).status, 200);
    await skipped(herald, 'muted');
    assert.equal(service.received.length, 0);
  });

  test('a notification\'s expiry caps the TTL', async (t) => {
    const { herald, service, subscribe } = await pushSetup('sqlite', t);
    await subscribe('alice');
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x', push: 'always', expires_at: inMs(60_000) });
    const [push] = await service.waitForAccepted(1);
    assert.ok(push!.ttl <= 60 && push!.ttl >= 55, `TTL ${push!.ttl}`);
  });

  test('a topic notification is not pushed', async (t) => {
    const { herald, service, subscribe, drained } = await pushSetup('sqlite', t);
    await subscribe('alice');
    await herald.publish({ topic: 'broadcast', type: 'alert', content: 'everyone', push: 'always' });
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'alice', push: 'always' });
    await service.waitForAccepted(1);
    await drained();
    assert.deepEqual(service.received.map((r) => r.payload.notification.body), ['alice']);
  });
});

describe('Web Push: the push service\'s answers (SQLite)', () => {
  test('404 deletes the subscription like 410', async (t) => {
    const { herald, service, subscribe, drained } = await pushSetup('sqlite', t);
    const { token, subscriptions } = await subscribe('alice');
    service.answer(subscriptions[0]!.endpoint, { status: 404 });
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x', push: 'always' });
    await drained();
    assert.deepEqual((await call(herald, 'GET', '/v1/push/subscriptions', token)).body, { items: [] });
  });

  test('500 then 201: retried with backoff, sent once', async (t) => {
    const { herald, service, subscribe, drained } = await pushSetup('sqlite', t);
    const { subscriptions } = await subscribe('alice');
    service.answer(subscriptions[0]!.endpoint, { status: 500 });
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x', push: 'always' });
    await service.waitForAccepted(1);
    await drained();
    assert.deepEqual(service.received.map((r) => r.status), [500, 201]);
    assert.equal(await herald.metric('herald_push_sent_total{result="retried"}'), 1);
  });

  test('413 drops the push without a retry and keeps the subscription', async (t) => {
    const { herald, service, subscribe, drained } = await pushSetup('sqlite', t);
    const { token, subscriptions } = await subscribe('alice');
    service.answer(subscriptions[0]!.endpoint, { status: 413 });
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x', push: 'always' });
    await drained();
    assert.deepEqual(service.received.map((r) => r.status), [413]);
    assert.equal(await herald.metric('herald_push_sent_total{result="dropped"}'), 1);
    assert.equal((await call(herald, 'GET', '/v1/push/subscriptions', token)).body.items.length, 1);
  });

  test('retries stop when the TTL runs out', async (t) => {
    const { herald, service, subscribe, drained } = await pushSetup('sqlite', t, { HERALD_PUSH_TTL_S: '2' });
    const { subscriptions } = await subscribe('alice');
    service.answer(subscriptions[0]!.endpoint, { status: 503, retryAfterS: 1 }, { status: 503, retryAfterS: 1 }, { status: 503, retryAfterS: 1 }, { status: 503, retryAfterS: 1 });
    await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x', push: 'always' });
    await drained();
    assert.equal(await herald.metric('herald_push_sent_total{result="expired"}'), 1);
    assert.ok(service.received.length >= 2 && service.received.length <= 3, `${service.received.length} tries in a 2 s TTL`);
    assert.equal(service.accepted().length, 0);
  });
});
