// Faults under continuous publishing, each healed: kill -9 of a node, RabbitMQ stopped and
// started, PostgreSQL restarted. Afterwards every notification answered 202 (or confirmed
// by the broker) has arrived exactly once, in order, at every subscriber of its user, and
// nothing arrived for the wrong user: the delivery guarantee stated in README.md.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection } from 'rabbitmq-client';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { publish } from '../helpers/publish.js';
import { createAmqpVhost, createPgDatabase, lockServices, queueDepth, rabbitmqctl, serviceCtl } from '../helpers/services.js';
import { tallyDelivery, waitForDelivery } from '../helpers/delivery-check.js';
import { ResumingSubscriber } from '../helpers/subscriber.js';
import { waitFor } from '../helpers/wait.js';

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
const SUBSCRIBERS_PER_USER = 2;
const HTTP_PUBLISHERS = 3;
/** Per logical notification: attempts (same idempotency key) before giving up. */
const MAX_ATTEMPTS = 60;
/** Publishes accepted in each phase (with a node down, the broker away, …) before the next. */
const PHASE_PUBLISHES = 60;

interface Outcome {
  user: string;
  accepted: boolean;
}

// The publishers below pace themselves and back off between attempts like real
// applications do; these pauses shape the load, they are not waits for an outcome.
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('no loss, no duplicates, no gaps across node crash, RabbitMQ restart and PostgreSQL restart', { timeout: 240_000 }, async (t) => {
  await lockServices(t);
  const db = await createPgDatabase();
  const vhost = await createAmqpVhost();
  let started: Cluster | null = null;
  const cleanups: Array<() => Promise<void>> = [];
  let publishing = true;
  let aborted = false;
  t.after(async () => {
    publishing = false;
    aborted = true;
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    // Whatever happened, leave the shared services running for the next test.
    await serviceCtl('postgres', 'start').catch(() => {});
    await serviceCtl('rabbitmq', 'start').catch(() => {});
    await started?.stop();
    await vhost.drop();
    await db.drop();
  });
  const cluster = (started = await startCluster({
    nodes: 3, databaseUrl: db.url, amqpUrl: vhost.url, env: { HERALD_HEARTBEAT_MS: '1000', HERALD_DRAIN_MS: '0' },
  }));
  // A confirmed message is safe only once the queue exists (an unroutable one is confirmed too).
  await waitFor(async () => /^herald\.ingest\s*$/m.test(await rabbitmqctl('list_queues', '-p', vhost.vhost, '--no-table-headers', 'name')),
    'the ingest queue to be declared', 20_000, 200);

  const subscribers = USERS.flatMap((user) => Array.from({ length: SUBSCRIBERS_PER_USER }, () =>
    new ResumingSubscriber(cluster.nginx.url, user, () => cluster.token(user, { scope: 'subscribe' })).start()));
  cleanups.push(async () => { await Promise.all(subscribers.map((s) => s.stop())); });
  await waitFor(() => subscribers.every((s) => s.open), 'every subscriber to be connected', 20_000);

  const outcomes = new Map<string, Outcome>();
  let refused = 0;
  const refusedBy = new Map<string, number>();
  const countRefused = (why: string) => {
    refused++;
    refusedBy.set(why, (refusedBy.get(why) ?? 0) + 1);
  };

  const publishToken = await cluster.token('fault-publisher', { scope: 'publish' });
  async function httpPublisher(index: number): Promise<void> {
    for (let n = 0; publishing; n++) {
      const key = `h${index}-${n}`;
      const user = USERS[(index + n) % USERS.length] as string;
      const outcome: Outcome = { user, accepted: false };
      outcomes.set(key, outcome);
      const body = { recipients: [user], type: 'fault.test', content: key, idempotency_key: key };
      for (let attempt = 1; attempt <= MAX_ATTEMPTS && !aborted; attempt++) {
        try {
          const res = await publish(cluster.nginx.url, publishToken, body, { signal: AbortSignal.timeout(10_000) });
          if (res.status === 202) {
            outcome.accepted = true;
            break;
          }
          countRefused(`http ${res.status}`);
        } catch (err) {
          countRefused(`http ${(err as Error).name}`);
        }
        await pause(Math.min(100 * attempt, 1000));
      }
      await pause(20);
    }
  }

  // Applications publishing through RabbitMQ: a message counts once the broker confirmed it.
  const rabbit = new Connection({ url: vhost.url, retryLow: 100, retryHigh: 1000, acquireTimeout: 3000 });
  rabbit.on('error', () => {});
  const amqpOut = rabbit.createPublisher({ confirm: true, exchanges: [{ exchange: 'herald.ingest', type: 'direct', durable: true }] });
  cleanups.push(async () => {
    await amqpOut.close();
    await rabbit.close();
  });
  async function amqpPublisher(): Promise<void> {
    for (let n = 0; publishing; n++) {
      const key = `a-${n}`;
      const user = USERS[n % USERS.length] as string;
      const outcome: Outcome = { user, accepted: false };
      outcomes.set(key, outcome);
      const body = Buffer.from(JSON.stringify({ recipients: [user], type: 'fault.test', content: key, publisher: 'fault-amqp' }));
      for (let attempt = 1; attempt <= MAX_ATTEMPTS && !aborted; attempt++) {
        try {
          await Promise.race([
            amqpOut.send({ exchange: 'herald.ingest', routingKey: 'notification', durable: true, contentType: 'application/json', messageId: key }, body),
            pause(5000).then(() => { throw new Error('no confirm within 5 s'); }),
          ]);
          outcome.accepted = true;
          break;
        } catch {
          countRefused('amqp');
        }
        await pause(Math.min(100 * attempt, 1000));
      }
      await pause(40);
    }
  }

  const publishers = [...Array.from({ length: HTTP_PUBLISHERS }, (_, i) => httpPublisher(i)), amqpPublisher()];
  cleanups.push(async () => { await Promise.all(publishers); });
  const acceptedCount = () => [...outcomes.values()].filter((o) => o.accepted).length;
  const log = (msg: string) => console.log(`[faults] ${msg} (accepted so far ${acceptedCount()}, refused ${refused})`);
  /** Lets the publishers go on until `count` more publishes were accepted in the current state. */
  const publishMore = async (count: number) => {
    const target = acceptedCount() + count;
    await waitFor(() => acceptedCount() >= target, `${count} more publishes to be accepted`, 60_000, 50);
  };

  await publishMore(PHASE_PUBLISHES);

  // 1. kill -9 of the node holding the most streams: its clients resume elsewhere with their cursor.
  const held = await Promise.all(cluster.nodes.map((node) => node.connections()));
  const victimIndex = held.indexOf(Math.max(...held));
  const victim = cluster.nodes[victimIndex];
  assert.ok(victim);
  log(`kill -9 node ${victimIndex} holding ${held[victimIndex]} of ${subscribers.length} streams`);
  await victim.kill('SIGKILL');
  const others = cluster.nodes.filter((node) => node !== victim);
  await waitFor(async () => (await Promise.all(others.map((n) => n.connections()))).reduce((x, y) => x + y, 0) === subscribers.length,
    'every subscriber to resume on the remaining nodes', 30_000, 100);
  await publishMore(PHASE_PUBLISHES);
  await victim.restart();
  await cluster.ready();
  log('node restarted');

  // 2. RabbitMQ stopped, then started: HTTP publishes still commit; nodes resync on reconnect.
  log('stopping RabbitMQ');
  await serviceCtl('rabbitmq', 'stop');
  await waitFor(async () => (await fetch(`${others[0]?.url}/readyz`)).status === 503, '/readyz to report the broker away', 20_000, 100);
  await publishMore(PHASE_PUBLISHES);
  await serviceCtl('rabbitmq', 'start');
  await cluster.ready(60_000);
  log('RabbitMQ back');
  await publishMore(PHASE_PUBLISHES);

  // 3. PostgreSQL restarted.
  log('stopping PostgreSQL');
  await serviceCtl('postgres', 'stop');
  await waitFor(async () => (await fetch(`${others[0]?.url}/readyz`)).status === 503, '/readyz to report the database away', 20_000, 100);
  // Keep it away until the publishers have felt it: refused a few more times.
  const refusedBefore = refused;
  await waitFor(() => refused >= refusedBefore + HTTP_PUBLISHERS, 'publishes to be refused while the database is away', 30_000, 50);
  await serviceCtl('postgres', 'start');
  await cluster.ready(60_000);
  log('PostgreSQL back');
  await publishMore(PHASE_PUBLISHES);

  publishing = false;
  await Promise.all(publishers);
  log('publishing stopped');

  const accepted = new Map([...outcomes].filter(([, o]) => o.accepted).map(([key, o]) => [key, o.user]));
  await waitForDelivery(subscribers, accepted);
  // One last notification per user: a stream delivers in order, so once it has arrived at a
  // subscriber, any late duplicate of an earlier one would have arrived before it.
  const marker = (user: string) => `marker-${user}`;
  for (const user of USERS) {
    assert.equal((await cluster.publish(cluster.nginx.url, { recipients: [user], type: 'fault.test', content: marker(user) }, publishToken)).status, 202);
  }
  await waitFor(() => subscribers.every((s) => s.received.some((r) => r.content === marker(s.user))), 'the last notification at every subscriber', 60_000, 100);

  const delivery = tallyDelivery(subscribers, accepted, 'faults', (user) => [marker(user)]);
  const abandoned = outcomes.size - accepted.size;
  const figures = {
    published: outcomes.size, accepted: accepted.size, refused, refusedBy: Object.fromEntries(refusedBy), abandoned,
    subscribers: subscribers.length, ...delivery, deadLettered: await queueDepth(vhost.vhost, 'herald.ingest.dlq'),
  };
  console.log(`[faults] figures ${JSON.stringify(figures)}`);
  assert.equal(delivery.lost, 0, 'lost');
  assert.equal(delivery.duplicated, 0, 'duplicated');
  assert.equal(delivery.unexpected, 0, 'unexpected');
  assert.equal(delivery.outOfOrder, 0, 'gaps or reordering in a stream');
  assert.equal(delivery.resets, 0, 'no stream was told to reset');
  assert.equal(abandoned, 0, 'every publish was eventually accepted');
  assert.equal(figures.deadLettered, 0, 'no good message was dead-lettered');
  assert.ok(accepted.size > 100, `enough traffic (${accepted.size})`);
});
