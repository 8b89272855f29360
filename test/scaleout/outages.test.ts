// Long database outages: queue messages wait instead of being dead-lettered, and a
// PostgreSQL that stops answering (paused: connections open, nothing comes back) makes
// publishes fail fast with 503 and recover by themselves once it answers again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection } from 'rabbitmq-client';
import { AmqpIngest } from '../../src/ingest/amqp-ingest.js';
import { NotificationPublisher } from '../../src/ingest/publisher.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { openStore } from '../../src/store/open-store.js';
import { overrideStore } from '../core/harness.js';
import { startHerald } from '../helpers/herald.js';
import { publish } from '../helpers/publish.js';
import { createAmqpVhost, createPgDatabase, lockServices, queueDepth, serviceCtl } from '../helpers/services.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };

test('a queue message waits out a database outage longer than any retry window and is stored once, never dead-lettered', async (t) => {
  // Fault tests stop and start the shared broker: not while this test uses it.
  await lockServices(t);
  const vhost = await createAmqpVhost();
  // One cleanup in a fixed order: the vhost goes last, once nothing on it is still open
  // (a connection closing on a vhost already dropped can wait for an answer that never comes).
  const closers: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await vhost.drop();
  });
  const realStore = await openStore(':memory:');
  await realStore.migrate();
  closers.push(() => realStore.close());
  let databaseDown = true;
  let attempts = 0;
  const store = overrideStore(realStore, {
    async publish(request) {
      attempts += 1;
      if (databaseDown) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      return realStore.publish(request);
    },
  });
  const connection = new Connection({ url: vhost.url, retryLow: 100, retryHigh: 500 });
  // The vhost is dropped at the end, which the broker announces as a connection error.
  connection.on('error', () => {});
  closers.push(() => connection.close());
  const publisher = new NotificationPublisher(store, new MemoryBus(), new Metrics());
  // A delivery limit of 2: a node that requeued on each retry window would reach it at once.
  const ingest = new AmqpIngest(connection, publisher, {
    exchange: 'herald.ingest', queue: 'herald.ingest', deadLetterQueue: 'herald.ingest.dlq', prefetch: 4,
    limits: LIMITS, log: createLogger('silent'), retryDelayMs: 10, maxRetryDelayMs: 20, deliveryLimit: 2,
  });
  ingest.start();
  closers.push(() => ingest.close());
  await waitFor(async () => (await queueDepth(vhost.vhost, 'herald.ingest.dlq').catch(() => -1)) === 0 &&
    (await queueDepth(vhost.vhost, 'herald.ingest').catch(() => -1)) === 0, 'the ingest topology');

  const send = connection.createPublisher({ confirm: true });
  closers.push(() => send.close());
  await send.send({ exchange: 'herald.ingest', routingKey: 'notification', durable: true, messageId: 'm-1', contentType: 'application/json' },
    { recipients: ['alice'], type: 'alert', content: 'through the outage' });
  await waitFor(() => attempts >= 100, 'a hundred commit attempts while the database is down', 30_000);
  databaseDown = false;
  await waitFor(async () => (await realStore.eventsAfter('user:alice', 0, 10)).length === 1, 'the message to be stored');
  await waitFor(async () => (await queueDepth(vhost.vhost, 'herald.ingest')) === 0, 'the message to be acked');
  assert.equal(await queueDepth(vhost.vhost, 'herald.ingest.dlq'), 0);
  assert.equal((await realStore.eventsAfter('user:alice', 0, 10)).length, 1);
});

test('publishing to a paused PostgreSQL answers 503 within the timeouts, and recovers by itself when it answers again', async (t) => {
  await lockServices(t);
  const db = await createPgDatabase();
  t.after(() => db.drop());
  const herald = await startHerald({ env: { HERALD_DATABASE_URL: `${db.url}?query_timeout=1500&statement_timeout=1000` } });
  t.after(() => herald.stop());
  const token = await herald.token('alice');
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  assert.equal((await herald.publish({ recipients: ['alice'], type: 'n', content: 'before' })).status, 202);

  await serviceCtl('postgres', 'pause');
  let resumed = false;
  t.after(async () => { if (!resumed) await serviceCtl('postgres', 'resume'); });
  // A publish must not hang while the database is away: the request gives up after 10 s,
  // which fails the test, and the answer must come well before.
  const during = await publish(herald.url, await herald.token('publisher'), { recipients: ['alice'], type: 'n', content: 'during' }, { signal: AbortSignal.timeout(10_000) });
  assert.equal(during.status, 503, JSON.stringify(during.body));

  await serviceCtl('postgres', 'resume');
  resumed = true;
  const after = await waitFor(async () => {
    const answer = await herald.publish({ recipients: ['alice'], type: 'n', content: 'after', idempotency_key: 'after-1' });
    return answer.status === 202 ? answer : null;
  }, 'a publish to succeed after PostgreSQL answers again', 30_000);
  assert.equal(after.status, 202);
  const events = await stream.waitForEvents('notification', 2, 20_000);
  assert.deepEqual(events.map((e) => e.data.content).filter((c) => c !== 'during'), ['before', 'after']);
});
