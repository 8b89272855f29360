// A node frozen by its host (SIGSTOP for 40 s, as a VM pause or a stuck I/O would) while it
// holds streams and RabbitMQ consumers, then thawed (SIGCONT), behind the shipped nginx
// recipe: new streams open on the other node during the freeze, the frozen node's streams
// resume there, what it held from the queue is finished once (nothing stored twice), and
// every accepted notification reaches every subscriber once, in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection } from 'rabbitmq-client';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { publish } from '../helpers/publish.js';
import { createAmqpVhost, createPgDatabase, lockServices, queueDepth, rabbitmqctl, withPg } from '../helpers/services.js';
import { tallyDelivery } from '../helpers/delivery-check.js';
import { ResumingSubscriber } from '../helpers/subscriber.js';
import { waitFor } from '../helpers/wait.js';

const USERS = ['f0', 'f1', 'f2'];
const SUBSCRIBERS_PER_USER = 2;
/** Longer than nginx's 25 s stream read timeout by enough to tell "moved away" from "waited for the thaw". */
const FREEZE_MS = 40_000;
/** A new stream must open within this while the node is frozen (nginx times the frozen node out at 25 s). */
const NEW_STREAM_WITHIN_MS = 34_000;
const NEWCOMERS = 4;
const PHASE_PUBLISHES = 30;

// These pauses shape the load and the fault (a freeze lasts 30 s); they are not waits for an outcome.
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a node frozen for 40 s and thawed: new streams open elsewhere, nothing is lost, stored twice or delivered twice', { timeout: 240_000 }, async (t) => {
  await lockServices(t);
  const db = await createPgDatabase();
  const vhost = await createAmqpVhost();
  let cluster: Cluster | null = null;
  const cleanups: Array<() => Promise<void>> = [];
  let publishing = true;
  t.after(async () => {
    publishing = false;
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    for (const node of cluster?.nodes ?? []) node.signal('SIGCONT');
    await cluster?.stop();
    await vhost.drop();
    await db.drop();
  });
  cluster = await startCluster({ nodes: 2, databaseUrl: db.url, amqpUrl: vhost.url, env: { HERALD_DRAIN_MS: '0' } });
  const nginxUrl = cluster.nginx.url;
  await waitFor(async () => /^herald\.ingest\s*$/m.test(await rabbitmqctl('list_queues', '-p', vhost.vhost, '--no-table-headers', 'name')),
    'the ingest queue to be declared', 20_000, 200);
  const { token } = cluster;
  const subscribers = USERS.flatMap((user) => Array.from({ length: SUBSCRIBERS_PER_USER }, () =>
    new ResumingSubscriber(nginxUrl, user, () => token(user, { scope: 'subscribe' })).start()));
  cleanups.push(async () => { await Promise.all(subscribers.map((s) => s.stop())); });
  await waitFor(() => subscribers.every((s) => s.open), 'every subscriber to be connected', 20_000);

  const accepted = new Map<string, string>();
  const publishToken = await token('frozen-publisher', { scope: 'publish' });
  // Through nginx, with an idempotency key and retries, as an application publishes.
  async function httpPublisher(index: number): Promise<void> {
    for (let n = 0; publishing; n++) {
      const key = `h${index}-${n}`;
      const user = USERS[(index + n) % USERS.length] as string;
      for (let attempt = 0; attempt < 100 && publishing; attempt++) {
        const res = await publish(nginxUrl, publishToken, { recipients: [user], type: 'frozen.test', content: key, idempotency_key: key }, { signal: AbortSignal.timeout(5000) })
          .catch(() => null);
        if (res?.status === 202) {
          accepted.set(key, user);
          break;
        }
        await pause(200);
      }
      await pause(30);
    }
  }
  // Through the ingest queue: a confirmed message must be stored exactly once, whichever node took it.
  const rabbit = new Connection({ url: vhost.url, retryLow: 100, retryHigh: 1000 });
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
      const body = Buffer.from(JSON.stringify({ recipients: [user], type: 'frozen.test', content: key, publisher: 'frozen-amqp', idempotency_key: key }));
      await amqpOut.send({ exchange: 'herald.ingest', routingKey: 'notification', durable: true, contentType: 'application/json', messageId: key }, body)
        .then(() => accepted.set(key, user), () => {});
      await pause(40);
    }
  }
  const publishers = [httpPublisher(0), httpPublisher(1), amqpPublisher()];
  cleanups.push(async () => {
    publishing = false;
    await Promise.all(publishers);
  });
  const publishMore = async (count: number) => {
    const target = accepted.size + count;
    await waitFor(() => accepted.size >= target, `${count} more publishes to be accepted`, 90_000, 50);
  };
  await publishMore(PHASE_PUBLISHES);

  const held = await Promise.all(cluster.nodes.map((node) => node.connections()));
  const frozen = cluster.nodes[held.indexOf(Math.max(...held))];
  assert.ok(frozen && Math.max(...held) > 0, 'the frozen node holds streams');
  frozen.signal('SIGSTOP');
  const frozenAt = Date.now();
  // Round robin sends some of them to the frozen node: those must move to the other one.
  const newcomers = Array.from({ length: NEWCOMERS }, (_, i) => new ResumingSubscriber(nginxUrl, `f-new-${i}`, () => token(`f-new-${i}`, { scope: 'subscribe' })).start());
  cleanups.push(async () => { await Promise.all(newcomers.map((s) => s.stop())); });
  await waitFor(() => newcomers.every((s) => s.open), 'new streams to open on the other node while this one is frozen', NEW_STREAM_WITHIN_MS, 50);
  const newcomerOpenMs = Date.now() - frozenAt;
  await publishMore(PHASE_PUBLISHES);
  await pause(Math.max(0, FREEZE_MS - (Date.now() - frozenAt)));
  frozen.signal('SIGCONT');
  await cluster.ready(60_000);
  await publishMore(PHASE_PUBLISHES);
  publishing = false;
  await Promise.all(publishers);

  // A last notification per user: once it arrived, any late duplicate would have come before it.
  for (const user of USERS) assert.equal((await cluster.publish(nginxUrl, { recipients: [user], type: 'frozen.test', content: `last-${user}` }, publishToken)).status, 202);
  await waitFor(() => subscribers.every((s) => s.received.some((r) => r.content === `last-${s.user}`)), 'the last notification at every subscriber', 60_000, 100);

  const stored = await withPg(db.url, async (client) => (await client.query<{ content: string; n: string }>(
    "select content, count(*) as n from notifications where type = 'frozen.test' group by content having count(*) > 1")).rows);
  assert.deepEqual(stored, [], 'nothing stored twice');
  const { lost, duplicated, unexpected, outOfOrder, resets } = tallyDelivery(subscribers, accepted, 'frozen', (user) => [`last-${user}`]);
  console.log(`[frozen] ${JSON.stringify({ accepted: accepted.size, newcomerOpenMs, lost, duplicated, unexpected, outOfOrder, resets })}`);
  assert.deepEqual({ lost, duplicated, unexpected, outOfOrder }, { lost: 0, duplicated: 0, unexpected: 0, outOfOrder: 0 });
  assert.equal(await queueDepth(vhost.vhost, 'herald.ingest.dlq'), 0, 'no message was dead-lettered');
});
