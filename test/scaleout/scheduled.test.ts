// Scheduled delivery with two nodes on PostgreSQL and RabbitMQ: one node is killed
// (SIGKILL) around the due time, and every scheduled notification is still delivered
// exactly once, on the stream held by the surviving node and in the table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../helpers/cluster.js';
import type { PublishAnswer } from '../helpers/publish.js';
import { scaleOutBackends, withPg } from '../helpers/services.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

const COUNT = 40;

test('scheduled notifications due while a node is SIGKILLed are each delivered exactly once', { timeout: 120_000 }, async (t) => {
  const { db, vhost, stopFirst } = await scaleOutBackends(t);
  const cluster = await startCluster({ nodes: 2, databaseUrl: db.url, amqpUrl: vhost.url });
  stopFirst(() => cluster.stop());
  const [doomed, survivor] = cluster.nodes;
  assert.ok(doomed && survivor);

  const stream = await openStream(survivor.url, await survivor.token('sam', { scope: 'subscribe' }));
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  const dueAt = Date.now() + 5_000;
  const ids: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    // Due within 200 ms of each other, so both nodes' schedulers claim around the kill.
    const deliverAt = new Date(dueAt + (i % 5) * 50).toISOString();
    const res: PublishAnswer = await doomed.publish({ recipients: ['sam'], type: 'batch', content: `s${i}`, deliver_at: deliverAt });
    assert.equal(res.status, 202);
    ids.push(res.body.notifications[0].id as string);
  }
  await waitFor(() => Date.now() >= dueAt, 'the due time', 10_000, 5);
  await doomed.kill('SIGKILL');

  const events = await stream.waitForEvents('notification', COUNT, 30_000);
  assert.deepEqual(events.map((e) => e.data.id).sort(), [...ids].sort());
  // Anything delivered twice would reach the stream before this last one.
  await survivor.publish({ recipients: ['sam'], type: 'batch', content: 'last' });
  const all = await stream.waitForEvents('notification', COUNT + 1);
  assert.equal(all.length, COUNT + 1);
  assert.equal(all.at(-1)?.data.content, 'last');

  const stored = await withPg(db.url, async (client) => {
    const rows = await client.query<{ id: string; seq: string }>("select id, seq from notifications where topic = 'user:sam' order by seq");
    const waiting = await client.query<{ n: string }>(`select (select count(*) from scheduled_targets) + (select count(*) from scheduled_publishes)
      + (select count(*) from scheduled_notifications) as n`);
    return { rows: rows.rows, waiting: Number(waiting.rows[0]?.n) };
  });
  assert.equal(stored.waiting, 0);
  assert.deepEqual(stored.rows.map((r) => Number(r.seq)), Array.from({ length: COUNT + 1 }, (_, i) => i + 1), 'gap-free, one row per notification');
  assert.deepEqual(stored.rows.slice(0, COUNT).map((r) => r.id).sort(), [...ids].sort());
});
