// Network partitions in a scale-out cluster: two Herald nodes, each in its own network
// namespace (test/helpers/netns.ts says how they reach PostgreSQL and RabbitMQ, and how a
// link is cut, made lossy or slow with iproute2 alone), behind nginx. Every process stays
// up while one link fails: node <-> PostgreSQL for 20 s, node <-> RabbitMQ, nginx <-> node,
// and 200 ms ± 100 ms latency with 5 % loss on every link during a publish load. After each,
// every notification answered 202 has arrived exactly once, in order, at every subscriber of
// its user, and each user's count equals the database's. The tests' time limits include
// waiting for the shared services' lock (other scale-out files hold it while they run).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createNodeNetworks, netnsList, startRelay, type NodeNetwork, type Relay } from '../helpers/netns.js';
import { publish } from '../helpers/publish.js';
import { scaleOutBackends, withPg } from '../helpers/services.js';
import { tallyDelivery, waitForDelivery } from '../helpers/delivery-check.js';
import { ResumingSubscriber } from '../helpers/subscriber.js';
import { waitFor } from '../helpers/wait.js';

const USERS = ['u0', 'u1', 'u2', 'u3'];
const SUBSCRIBERS_PER_USER = 2;

// Publishers pace themselves like applications do; these pauses shape the load, they are
// not waits for an outcome.
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Partitioned {
  cluster: Cluster;
  nets: NodeNetwork[];
  pgRelays: Relay[];
  amqpRelays: Relay[];
  /** nginx -> node relays (only with `httpRelays`), for latency on that link too. */
  httpRelays: Relay[];
  databaseUrl: string;
}

/** Two nodes in namespaces, their relays, nginx; all removed when the test ends. */
async function partitioned(t: TestContext, options: { httpRelays?: boolean } = {}): Promise<Partitioned> {
  const before = await netnsList();
  const backends = await scaleOutBackends(t);
  const networks = await createNodeNetworks(2);
  // Stopped newest first: the namespaces go after every process and relay using them.
  backends.stopFirst(async () => {
    await networks.remove();
    const left = (await netnsList()).filter((ns) => !before.includes(ns) && ns.startsWith('herald-'));
    assert.deepEqual(left, [], 'every namespace this test made is gone');
  });
  const nets = networks.nodes;
  const relayTo = (url: string) => { const u = new URL(url); return { host: u.hostname, port: Number(u.port) }; };
  const pgRelays = await Promise.all(nets.map((net) => startRelay(net.hostAddress, relayTo(backends.db.url))));
  const amqpRelays = await Promise.all(nets.map((net) => startRelay(net.hostAddress, relayTo(backends.vhost.url))));
  const httpRelays: Relay[] = [];
  backends.stopFirst(async () => { await Promise.all([...pgRelays, ...amqpRelays, ...httpRelays].map((relay) => relay.close())); });
  const via = (url: string, relay: Relay) => { const u = new URL(url); u.hostname = relay.host; u.port = String(relay.port); return u.toString(); };
  const cluster = await startCluster({
    nodes: 2,
    databaseUrl: backends.db.url,
    amqpUrl: backends.vhost.url,
    env: {
      HERALD_HEARTBEAT_MS: '1000', HERALD_DRAIN_MS: '0', HERALD_TRUST_PROXY: `127.0.0.1,${networks.cidr}`,
      // The nodes listen beyond loopback: /metrics (connection counts) then needs a token.
      HERALD_METRICS_TOKEN: randomBytes(16).toString('hex'),
    },
    node: (i) => ({
      spawnPrefix: nets[i]?.spawnPrefix,
      host: nets[i]?.nodeAddress,
      env: { HERALD_DATABASE_URL: via(backends.db.url, pgRelays[i] as Relay), HERALD_AMQP_URL: via(backends.vhost.url, amqpRelays[i] as Relay) },
    }),
    upstreams: async (nodes) => {
      if (!options.httpRelays) return nodes.map((node, i) => `${nets[i]?.nodeAddress}:${node.port}`);
      for (const [i, node] of nodes.entries()) httpRelays.push(await startRelay('127.0.0.1', { host: nets[i]?.nodeAddress as string, port: node.port }));
      return httpRelays.map((relay) => relay.port);
    },
  });
  backends.stopFirst(() => cluster.stop());
  return { cluster, nets, pgRelays, amqpRelays, httpRelays, databaseUrl: backends.db.url };
}

/** Publishes that are retried with their idempotency key until accepted; what a checker needs. */
class Load {
  readonly outcomes = new Map<string, { user: string; accepted: boolean }>();
  readonly answerMs: number[] = [];
  /** Date.now() when each key was answered 202. */
  readonly acceptedAt = new Map<string, number>();
  refused = 0;
  /** Refusals by answer (`503`, `AbortError`, …). */
  readonly refusedBy: Record<string, number> = {};
  #n = 0;
  #token: Promise<string>;

  constructor(readonly cluster: Cluster) {
    this.#token = cluster.token('partition-publisher', { scope: 'publish' });
  }

  get accepted(): number {
    return [...this.outcomes.values()].filter((o) => o.accepted).length;
  }

  /** One notification for `user` through `baseUrl`, retried until 202; the key it carries. */
  async publish(baseUrl: string, user: string, maxAttempts = 60): Promise<string> {
    const key = `p-${this.#n++}`;
    const outcome = { user, accepted: false };
    this.outcomes.set(key, outcome);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const started = Date.now();
      try {
        const res = await publish(baseUrl, await this.#token, { recipients: [user], type: 'partition.test', content: key, idempotency_key: key },
          { signal: AbortSignal.timeout(20_000) });
        this.answerMs.push(Date.now() - started);
        if (res.status === 202) {
          outcome.accepted = true;
          this.acceptedAt.set(key, Date.now());
          return key;
        }
        this.#refuse(String(res.status));
      } catch (err) {
        // No answer in 20 s (Herald answers within its 15 s query timeout, so the network
        // lost it) or reset: retried with the same key like any refusal.
        this.#refuse((err as Error).name);
      }
      await pause(Math.min(100 * attempt, 1000));
    }
    return key;
  }

  #refuse(why: string): void {
    this.refused++;
    this.refusedBy[why] = (this.refusedBy[why] ?? 0) + 1;
  }

  /** `workers` publishers through `baseUrl` while `going()` holds, round robin over the users. */
  run(baseUrl: () => string, workers: number, going: () => boolean, gapMs = 30): Promise<void> {
    return Promise.all(Array.from({ length: workers }, async (_, w) => {
      for (let n = w; going(); n += workers) {
        await this.publish(baseUrl(), USERS[n % USERS.length] as string);
        await pause(gapMs);
      }
    })).then(() => {});
  }
}

function subscribe(t: TestContext, cluster: Cluster): ResumingSubscriber[] {
  const subscribers = USERS.flatMap((user) => Array.from({ length: SUBSCRIBERS_PER_USER }, () =>
    new ResumingSubscriber(cluster.nginx.url, user, () => cluster.token(user, { scope: 'subscribe' })).start()));
  t.after(() => Promise.all(subscribers.map((s) => s.stop())));
  return subscribers;
}

/** Accepted notifications not yet at a subscriber of their user, over all subscribers. */
function missing(load: Load, subscribers: ResumingSubscriber[]): number {
  let count = 0;
  for (const s of subscribers) {
    const got = new Set(s.received.map((r) => r.content));
    for (const [key, o] of load.outcomes) if (o.accepted && o.user === s.user && !got.has(key)) count++;
  }
  return count;
}

/** Which node holds each subscriber's stream (from each node's connection count, by closing none). */
async function connectionsPerNode(cluster: Cluster): Promise<number[]> {
  return Promise.all(cluster.nodes.map((node) => node.connections().catch(() => -1)));
}

/**
 * Waits until every accepted notification reached every subscriber of its user, then checks
 * exactly once, in order, nothing foreign, and that each user's number of notifications
 * equals the database's rows for them.
 */
async function checkDelivery(load: Load, subscribers: ResumingSubscriber[], databaseUrl: string, timeoutMs = 60_000) {
  const accepted = new Map([...load.outcomes].filter(([, o]) => o.accepted).map(([key, o]) => [key, o.user]));
  await waitForDelivery(subscribers, accepted, timeoutMs);
  const { lost, duplicated, unexpected, outOfOrder, resets } = tallyDelivery(subscribers, accepted, 'partitions');
  const expectedCount = (user: string) => [...accepted.values()].filter((u) => u === user).length;
  const stored = await withPg(databaseUrl, async (client) =>
    (await client.query<{ recipient: string; n: number }>('select recipient, count(*)::int as n from notifications group by recipient')).rows);
  const storedFor = new Map(stored.map((row) => [row.recipient, row.n]));
  const countMismatches = USERS.filter((user) => (storedFor.get(user) ?? 0) !== expectedCount(user)).length;
  const figures = { accepted: accepted.size, abandoned: load.outcomes.size - accepted.size, refused: load.refused, refusedBy: load.refusedBy, lost, duplicated, unexpected, outOfOrder, resets, countMismatches };
  assert.equal(lost, 0, `lost ${JSON.stringify(figures)}`);
  assert.equal(duplicated, 0, `duplicated ${JSON.stringify(figures)}`);
  assert.equal(unexpected, 0, `unexpected ${JSON.stringify(figures)}`);
  assert.equal(outOfOrder, 0, `gaps or reordering ${JSON.stringify(figures)}`);
  assert.equal(resets, 0, 'no stream was told to reset');
  assert.equal(figures.abandoned, 0, 'every publish was eventually accepted');
  assert.equal(countMismatches, 0, `each user's count equals the database's: ${JSON.stringify(stored)}`);
  return figures;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const log = (msg: string) => console.log(`[partitions] ${msg}`);

test('node <-> PostgreSQL cut for 20 s: its publishes answer 503 within the timeouts, the other node serves, its streams get everything after', { timeout: 240_000 }, async (t) => {
  const { cluster, nets, pgRelays, databaseUrl } = await partitioned(t);
  const [cut, other] = cluster.nodes;
  assert.ok(cut && other);
  const subscribers = subscribe(t, cluster);
  await waitFor(() => subscribers.every((s) => s.open), 'every subscriber to be connected', 20_000);
  // Streams on both nodes: nginx (least_conn) spreads them.
  const held = await connectionsPerNode(cluster);
  assert.ok((held[0] ?? 0) > 0 && (held[1] ?? 0) > 0, `streams on both nodes: ${held}`);
  const load = new Load(cluster);
  for (const user of USERS) await load.publish(cut.url, user);

  const cutAt = Date.now();
  await nets[0]?.cut(pgRelays[0]?.port as number);
  log(`PostgreSQL cut from node 1 (streams per node ${held})`);
  // Publishes straight to the cut node: each must be answered, 503, within the timeouts.
  const token = await cluster.token('partition-publisher', { scope: 'publish' });
  const cutAnswers: Array<{ status: number; ms: number }> = [];
  const cutProbe = (async () => {
    // Begun in the first 10 s, so that each is answered (in at most 15 s) before the heal.
    while (Date.now() - cutAt < 10_000) {
      const started = Date.now();
      const res = await publish(cut.url, token, { recipients: ['u0'], type: 'partition.test', content: 'refused' }, { signal: AbortSignal.timeout(20_000) })
        .catch((err: Error) => ({ status: 0, body: err.message }));
      cutAnswers.push({ status: res.status, ms: Date.now() - started });
    }
  })();
  let going = true;
  // Straight to node 2, and through nginx (which may pick either node) like an application.
  const during = Promise.all([load.run(() => other.url, 2, () => going, 100), load.run(() => cluster.nginx.url, 1, () => going, 100)]);
  await waitFor(async () => (await fetch(`${cut.url}/readyz`)).status === 503, 'the cut node to say it is not ready', 15_000, 200);
  await cutProbe;
  await waitFor(() => Date.now() - cutAt >= 20_000, 'the 20 s cut to pass', 25_000, 100);
  const acceptedDuringCut = load.accepted - USERS.length;
  await nets[0]?.heal();
  const healedAt = Date.now();
  const missingAtHeal = missing(load, subscribers);
  going = false;
  await during;
  log(`healed after ${healedAt - cutAt} ms; cut-node publishes answered ${JSON.stringify(cutAnswers)}; ${acceptedDuringCut} accepted by node 2 and through nginx meanwhile`);

  assert.ok(cutAnswers.length > 0);
  for (const answer of cutAnswers) {
    assert.equal(answer.status, 503, `a publish on the cut node answered ${answer.status} after ${answer.ms} ms`);
    // The pool's connect timeout (5 s) or the client's query timeout (15 s) answers it.
    assert.ok(answer.ms <= 16_000, `answered within the timeouts (${answer.ms} ms)`);
  }
  assert.ok(acceptedDuringCut >= 10, `the other node kept accepting (${acceptedDuringCut})`);
  // Every stream, the cut node's included, has everything accepted so far.
  await waitFor(() => missing(load, subscribers) === 0, 'every subscriber to have caught up after the heal', 60_000, 50);
  const catchUpMs = Date.now() - healedAt;
  await cluster.ready(30_000);
  const readyMs = Date.now() - healedAt;
  // The healed node publishes again.
  for (const user of USERS) await load.publish(cut.url, user);
  const figures = await checkDelivery(load, subscribers, databaseUrl);
  log(`figures ${JSON.stringify({ ...figures, cutAnswerMs: cutAnswers.map((a) => a.ms), missingAtHeal, catchUpMs, readyAfterHealMs: readyMs })}`);
});

test('node <-> RabbitMQ cut: no hint reaches it, then its connection is given up and the hints are lost, yet its streams get every event from the store at the resync', { timeout: 180_000 }, async (t) => {
  const { cluster, nets, amqpRelays, databaseUrl } = await partitioned(t);
  const [cut, other] = cluster.nodes;
  assert.ok(cut && other);
  const subscribers = subscribe(t, cluster);
  await waitFor(() => subscribers.every((s) => s.open), 'every subscriber to be connected', 20_000);
  const held = await connectionsPerNode(cluster);
  assert.ok((held[0] ?? 0) > 0 && (held[1] ?? 0) > 0, `streams on both nodes: ${held}`);
  const load = new Load(cluster);
  for (const user of USERS) await load.publish(other.url, user);

  await nets[0]?.cut(amqpRelays[0]?.port as number);
  const cutAt = Date.now();
  log('RabbitMQ cut from node 1');
  // Published on node 2: node 1 hears no hint of them while the cut lasts.
  const keys: string[] = [];
  for (let i = 0; i < 12; i++) keys.push(await load.publish(other.url, USERS[i % USERS.length] as string));
  for (const user of USERS) keys.push(await load.publish(cut.url, user));
  // Every stream, node 1's included, gets them while RabbitMQ is still cut from node 1.
  await waitFor(() => subscribers.every((s) => keys.every((key) => load.outcomes.get(key)?.user !== s.user || s.received.some((r) => r.content === key))),
    'every subscriber to get the events published during the cut, from the store', 20_000, 50);
  const caughtUpMs = Date.now() - cutAt;
  // Kept cut until node 1 gives its connection up: the broker then drops the node's bus
  // queue with the hints it held, so these are lost for good, not merely late.
  await waitFor(async () => (await fetch(`${cut.url}/readyz`)).status === 503, 'node 1 to report the broker unreachable', 60_000, 200);
  const gaveUpMs = Date.now() - cutAt;
  const lostHints: string[] = [];
  for (let i = 0; i < 8; i++) lostHints.push(await load.publish(other.url, USERS[i % USERS.length] as string));
  await waitFor(() => subscribers.every((s) => lostHints.every((key) => load.outcomes.get(key)?.user !== s.user || s.received.some((r) => r.content === key))),
    'every subscriber to get the events whose hints were lost, from the store', 20_000, 50);
  await nets[0]?.heal();
  const healedAt = Date.now();
  await cluster.ready(60_000);
  const readyMs = Date.now() - healedAt;
  for (const user of USERS) await load.publish(cut.url, user);
  const figures = await checkDelivery(load, subscribers, databaseUrl);
  log(`figures ${JSON.stringify({ ...figures, caughtUpDuringCutMs: caughtUpMs, connectionGivenUpMs: gaveUpMs, readyAfterHealMs: readyMs })}`);
});

test('nginx <-> node cut: its clients resume on the other node and miss nothing', { timeout: 180_000 }, async (t) => {
  const { cluster, nets, databaseUrl } = await partitioned(t);
  const [cut, other] = cluster.nodes;
  assert.ok(cut && other);
  const subscribers = subscribe(t, cluster);
  await waitFor(() => subscribers.every((s) => s.open), 'every subscriber to be connected', 20_000);
  const held = await connectionsPerNode(cluster);
  assert.ok((held[0] ?? 0) > 0, `streams on node 1: ${held}`);
  const load = new Load(cluster);
  let going = true;
  const publishing = load.run(() => cluster.nginx.url, 2, () => going, 50);
  await waitFor(() => load.accepted >= 20, '20 publishes before the cut', 30_000, 50);

  // A dropped link ends nothing by itself: a client knows its stream is dead by its silence,
  // as the SDK's watchdog does (2.5 heartbeats); with a publish every few hundred ms per user
  // here, 3 s without a notification is that silence.
  const watchdog = setInterval(() => {
    for (const s of subscribers) {
      const last = s.received.at(-1)?.at ?? 0;
      if (s.open && Date.now() - last > 3000) s.reconnect();
    }
  }, 500);
  t.after(() => clearInterval(watchdog));
  await nets[0]?.cut(cut.port);
  const cutAt = Date.now();
  log(`nginx cut from node 1 (streams per node ${held})`);
  await waitFor(async () => (await other.connections()) === subscribers.length, 'every stream to resume on node 2', 30_000, 200);
  const resumedMs = Date.now() - cutAt;
  const target = load.accepted + 30;
  await waitFor(() => load.accepted >= target, '30 more publishes through nginx during the cut', 60_000, 50);
  going = false;
  await publishing;
  await nets[0]?.heal();
  clearInterval(watchdog);
  const figures = await checkDelivery(load, subscribers, databaseUrl);
  log(`figures ${JSON.stringify({ ...figures, resumedOnOtherNodeMs: resumedMs })}`);
});

test('200 ms ± 100 ms latency and 5 % loss on every link during a publish load: nothing lost, duplicated or reordered', { timeout: 240_000 }, async (t) => {
  const { cluster, nets, pgRelays, amqpRelays, httpRelays, databaseUrl } = await partitioned(t, { httpRelays: true });
  const subscribers = subscribe(t, cluster);
  await waitFor(() => subscribers.every((s) => s.open), 'every subscriber to be connected', 20_000);
  for (const relay of [...pgRelays, ...amqpRelays, ...httpRelays]) relay.delay(200, 100);
  for (const net of nets) await net.loss(0.05);
  log('latency and loss on every link');
  const load = new Load(cluster);
  const started = Date.now();
  let going = true;
  const publishing = load.run(() => cluster.nginx.url, 6, () => going, 20);
  await waitFor(() => load.accepted >= 80 || Date.now() - started > 45_000, '80 publishes (or 45 s of them) under latency and loss', 50_000, 100);
  going = false;
  await publishing;
  const figures = await checkDelivery(load, subscribers, databaseUrl, 60_000);
  for (const net of nets) await net.loss(0);
  // From the 202 to the notification's arrival at each subscriber of its user.
  const deliveryMs = subscribers.flatMap((s) => s.received.map((r) => r.at - (load.acceptedAt.get(r.content) ?? r.at)));
  log(`figures ${JSON.stringify({
    ...figures, publishes: load.answerMs.length, seconds: (Date.now() - started) / 1000,
    publishP50Ms: percentile(load.answerMs, 50), publishP99Ms: percentile(load.answerMs, 99), publishMaxMs: Math.max(...load.answerMs),
    deliveryP50Ms: percentile(deliveryMs, 50), deliveryP99Ms: percentile(deliveryMs, 99),
  })}`);
  assert.ok(figures.accepted >= 30, `enough traffic (${figures.accepted})`);
});
