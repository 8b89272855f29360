// Preferences across nodes: two Herald nodes on PostgreSQL and RabbitMQ. A change made on
// one node reaches the user's streams on the other, which then filters by it; the queue
// ingest suppresses muted recipients like HTTP does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection } from 'rabbitmq-client';
import { startCluster } from '../helpers/cluster.js';
import { scaleOutBackends } from '../helpers/services.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

test('preferences across two nodes on PostgreSQL and RabbitMQ', { timeout: 180_000 }, async (t) => {
  const { db, vhost, stopFirst } = await scaleOutBackends(t);
  const cluster = await startCluster({ nodes: 2, databaseUrl: db.url, amqpUrl: vhost.url });
  stopFirst(() => cluster.stop());
  const [a, b] = cluster.nodes;
  assert.ok(a && b);

  // The queue case runs first: the broadcasts of the other case would show in its inbox.
  await t.test('a queue-ingested publish stores nothing for a recipient who muted its type', async (st) => {
    const token = await cluster.token('qmute');
    const put = await fetch(`${b.url}/v1/preferences`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ muted_types: ['digest'] }),
    });
    assert.equal(put.status, 200);
    const rabbit = new Connection({ url: vhost.url, retryLow: 100 });
    rabbit.on('error', () => {});
    const publisher = rabbit.createPublisher({ confirm: true, exchanges: [{ exchange: 'herald.ingest', type: 'direct', durable: true }] });
    st.after(async () => {
      await publisher.close();
      await rabbit.close();
    });
    const send = (body: unknown, messageId: string) => publisher.send({
      exchange: 'herald.ingest', routingKey: 'notification', durable: true, contentType: 'application/json', messageId,
    }, Buffer.from(JSON.stringify(body)));
    await send({ recipients: ['qmute', 'qother'], type: 'digest', content: 'weekly', publisher: 'mailer' }, 'q-muted');
    await send({ recipients: ['qmute'], type: 'alert', content: 'after', publisher: 'mailer' }, 'q-after');
    const inboxOf = async (user: string) => {
      const res = await fetch(`${a.url}/v1/notifications`, { headers: { authorization: `Bearer ${await cluster.token(user)}` } });
      return await res.json() as { items: Array<{ content: string }>; unread_count: number };
    };
    // The other recipient's copy shows the muted message was handled, whatever the order.
    await waitFor(async () => (await inboxOf('qother')).items.length === 1, 'the other recipient\'s copy', 20_000, 100);
    const list = await waitFor(async () => {
      const body = await inboxOf('qmute');
      return body.items.length > 0 ? body : null;
    }, 'the message after the muted one', 20_000, 100);
    assert.deepEqual([list.items.map((n) => n.content), list.unread_count], [['after'], 1]);
  });

  await t.test('a PUT on node A reaches a stream on node B, which then drops broadcasts of the muted type', async (st) => {
    const token = await cluster.token('alice');
    const onB = await openStream(b.url, token);
    st.after(() => onB.close());
    await onB.waitForEvents('ready', 1);
    const put = await fetch(`${a.url}/v1/preferences`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ muted_types: ['promo.*'] }),
    });
    assert.equal(put.status, 200);
    const [updated] = await onB.waitForEvents('preferences.updated', 1);
    assert.deepEqual(updated?.data, { muted_types: ['promo.*'], unread_count: 0 });
    await cluster.publish(a.url, { topic: 'broadcast', type: 'promo.sale', content: 'muted' });
    await cluster.publish(a.url, { topic: 'broadcast', type: 'alert', content: 'shown' });
    const [event] = await onB.waitForEvents('notification', 1);
    assert.deepEqual([event?.data.content, event?.data.unread_count], ['shown', 1]);
  });
});
