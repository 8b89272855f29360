// Scale-out with HERALD_WORKERS=2: two nodes on PostgreSQL and RabbitMQ behind nginx, each
// a primary and two workers. Every worker is a full node (its own bus queue), so a publish
// through one worker reaches streams on the other worker of its node and on the other node.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../helpers/cluster.js';
import { scaleOutBackends } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';
import { openStreamOn, WorkerConnection } from '../helpers/workers.js';

test('two nodes of two workers each on PostgreSQL and RabbitMQ', { timeout: 120_000 }, async (t) => {
  const { db, vhost, stopFirst } = await scaleOutBackends(t);
  const cluster = await startCluster({ nodes: 2, databaseUrl: db.url, amqpUrl: vhost.url, env: { HERALD_WORKERS: '2' } });
  stopFirst(() => cluster.stop());
  const [a, b] = cluster.nodes;
  assert.ok(a && b);
  const publisher = await cluster.token('publisher', { scope: 'publish' });
  const viaA2 = await WorkerConnection.to(a.url, 2);
  t.after(() => viaA2.close());

  await t.test('a publish through one worker reaches a stream on the other worker of its node and on the other node', async (st) => {
    const token = await cluster.token('alice');
    const [onA1, onB1, onB2] = await Promise.all([openStreamOn(a.url, 1, token), openStreamOn(b.url, 1, token), openStreamOn(b.url, 2, token)]);
    st.after(() => [onA1, onB1, onB2].forEach((s) => s.close()));
    await Promise.all([onA1, onB1, onB2].map((s) => s.waitForEvents('ready', 1)));
    for (let i = 0; i < 5; i++) assert.equal((await viaA2.publish(publisher, { recipients: ['alice'], type: 'alert', content: `m${i}` })).status, 202);
    for (const stream of [onA1, onB1, onB2]) {
      const events = await stream.waitForEvents('notification', 5);
      assert.deepEqual(events.map((e) => e.data.content), ['m0', 'm1', 'm2', 'm3', 'm4']);
    }
  });

  await t.test('a notification scheduled with four schedulers running is delivered once', async (st) => {
    const token = await cluster.token('bob');
    const stream = await openStreamOn(b.url, 2, token);
    st.after(() => stream.close());
    await stream.waitForEvents('ready', 1);
    const deliverAt = new Date(Date.now() + 1500).toISOString();
    assert.equal((await viaA2.publish(publisher, { recipients: ['bob'], type: 'reminder', content: 'later', deliver_at: deliverAt })).status, 202);
    await stream.waitForEvents('notification', 1, 15_000);
    // Anything delivered twice would reach the stream before this one.
    assert.equal((await viaA2.publish(publisher, { recipients: ['bob'], type: 'alert', content: 'marker' })).status, 202);
    await waitFor(() => stream.of('notification').some((e) => e.data.content === 'marker'), 'the marker');
    assert.deepEqual(stream.of('notification').map((e) => e.data.content), ['later', 'marker']);
  });
});
