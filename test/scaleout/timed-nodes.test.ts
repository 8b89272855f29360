// Expiry and the end of a snooze happen by time, with no request and no bus message: each
// node's due sweeper tells its own streams. Two nodes on PostgreSQL and RabbitMQ.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inMs } from '../e2e/store-backends.js';
import { startCluster } from '../helpers/cluster.js';
import { scaleOutBackends } from '../helpers/services.js';
import { openStream } from '../helpers/sse-client.js';

test('expiries and ended snoozes reach streams on every node', { timeout: 120_000 }, async (t) => {
  const { db, vhost, stopFirst } = await scaleOutBackends(t);
  const cluster = await startCluster({ nodes: 2, databaseUrl: db.url, amqpUrl: vhost.url });
  stopFirst(() => cluster.stop());
  const [a, b] = cluster.nodes;
  assert.ok(a && b);

  await t.test('a notification published on one node that expires is announced on both nodes\' streams', async (st) => {
    const token = await a.token('alice', { scope: 'subscribe' });
    const streams = [await openStream(a.url, token), await openStream(b.url, token)];
    st.after(() => streams.forEach((s) => s.close()));
    for (const s of streams) await s.waitForEvents('ready', 1);
    const published = await a.publish({ recipients: ['alice'], type: 'offer', content: 'short-lived', expires_at: inMs(4_000) });
    const id = published.body.notifications[0].id as string;
    for (const s of streams) {
      const [expired] = await s.waitForEvents('notification.expired', 1, 20_000);
      assert.deepEqual(expired?.data, { ids: [id], unread_count: 0 });
    }
  });

  await t.test('a snooze set on one node that ends is announced on the other node\'s stream with the new count', async (st) => {
    const token = await a.token('bob', { scope: 'subscribe' });
    const id = (await a.publish({ recipients: ['bob'], type: 'task', content: 'later' })).body.notifications[0].id as string;
    const until = inMs(4_000);
    const res = await fetch(`${a.url}/v1/notifications/${id}`, {
      method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ snoozed_until: until }),
    });
    assert.equal(res.status, 200);
    const onB = await openStream(b.url, token);
    st.after(() => onB.close());
    const [ready] = await onB.waitForEvents('ready', 1);
    assert.equal(ready?.data.unread_count, 0);
    const [woken] = await onB.waitForEvents('notification.updated', 1, 20_000);
    assert.deepEqual([woken?.data.ids, woken?.data.snoozed_until, woken?.data.unread_count], [[id], null, 1]);
  });
});
