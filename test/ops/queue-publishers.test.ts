// Queue publishers and HTTP publishers are separate name spaces: a publish token whose `sub`
// happens to equal a queue publisher's name cannot replay that publisher's idempotency keys
// or cancel its scheduled notifications. Real RabbitMQ, real Herald.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openSqliteHandle } from '../../src/store/sqlite-handle.js';
import { publish } from '../helpers/publish.js';
import { startQueueHerald, type QueueHerald } from '../helpers/queue-herald.js';
import { waitFor } from '../helpers/wait.js';

describe('queue and HTTP publishers', () => {
  let queue: QueueHerald;
  const later = () => new Date(Date.now() + 3600_000).toISOString();
  const send = (body: Record<string, unknown>) => queue.ingest.send(
    { exchange: 'herald.ingest', routingKey: 'notification', durable: true, contentType: 'application/json' }, JSON.stringify(body));
  /** Ids of scheduled notifications holding `content`, read from the database as an attacker who learned them would know them. */
  const scheduledIds = async (content: string): Promise<string[]> => {
    const db = await openSqliteHandle(queue.herald.env.HERALD_DATABASE_URL as string, 'full');
    try {
      return (db.prepare(`select t.id from scheduled_targets t join scheduled_publishes p on p.id = t.publish_id
        where p.content = ?`).all([content]) as { id: string }[]).map((r) => r.id);
    } finally {
      db.close();
    }
  };

  before(async () => {
    queue = await startQueueHerald();
  });
  after(() => queue?.stop());

  test('a token with sub "orders" publishing with the queue publisher "orders"\'s key gets its own notification, not a conflict or a replay', async () => {
    await send({ publisher: 'orders', idempotency_key: 'order-1', recipients: ['alice'], type: 'order', content: 'from the queue', deliver_at: later() });
    await waitFor(async () => (await scheduledIds('from the queue')).length === 1, 'the queue message to be stored');
    const token = await queue.herald.token('orders', { scope: 'publish' });
    const res = await publish(queue.herald.url, token, { idempotency_key: 'order-1', recipients: ['mallory'], type: 'order', content: 'over http' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.notifications[0]?.content, 'over http');
  });

  test('a token with sub "billing" cannot cancel the queue publisher "billing"\'s scheduled notification', async () => {
    await send({ publisher: 'billing', recipients: ['alice'], type: 'invoice', content: 'scheduled by the queue', deliver_at: later() });
    await waitFor(async () => (await scheduledIds('scheduled by the queue')).length === 1, 'the queue message to be stored');
    const [id] = await scheduledIds('scheduled by the queue');
    const token = await queue.herald.token('billing', { scope: 'publish' });
    const res = await fetch(`${queue.herald.url}/v1/notifications/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 404);
    assert.deepEqual(await scheduledIds('scheduled by the queue'), [id], 'still scheduled');
  });
});
