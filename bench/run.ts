// `npm run bench`: Herald's own scenarios on embedded Herald processes over loopback, each
// measured BENCH_RUNS times (default 3) and reported as the median, beside a baseline taken
// in the same run on the same server (an HTTP round trip to /healthz), so a noisy shared
// machine compares like with like. PostgreSQL and RabbitMQ scenarios run when their URLs are
// configured (see bench/benchmarks-intro.md). Results go to bench/results/run.json, and those of
// the delivery scenarios (bench/delivery.ts) to bench/results/delivery.json; BENCH_ONLY picks
// scenarios. bench/report.ts then writes docs/benchmarks.md and its charts. Every loop is
// bounded in count or time.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { Connection } from 'rabbitmq-client';
import { startHerald, type HeraldProcess } from '../test/helpers/herald.js';
import { openStream, type TestStream } from '../test/helpers/sse-client.js';
import { withPg } from '../test/helpers/services.js';
import { waitFor } from '../test/helpers/wait.js';
import { DELIVERY_SCENARIOS, OPT_IN_SCENARIOS, runDeliveryScenario, type DeliveryScenario } from './delivery.js';
import { agent, healthzMs, median, percentile, publishOk } from './http.js';
import { RESULTS_DIR, writeReport, type BenchResults, type DeliveryResults, type RunRecord } from './report.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 1000);
const THROUGHPUT_PUBLISHES = Number(process.env.BENCH_THROUGHPUT_PUBLISHES ?? 2000);
const INGEST_PUBLISHES = Number(process.env.BENCH_INGEST_PUBLISHES ?? 4000);
const INGEST_PUBLISHERS = 32;
const INGEST_USERS = 20;
const FANOUT_STREAMS = Number(process.env.BENCH_FANOUT_STREAMS ?? 1000);
const MIXED_SAMPLES = Number(process.env.BENCH_MIXED_SAMPLES ?? 300);
/** An admin URL (may create databases) for the PostgreSQL scenarios; unset: they are left out. */
const PG_URL = process.env.BENCH_PG_URL ?? process.env.HERALD_TEST_PG_URL ?? null;
/** A RabbitMQ URL for the queue ingest scenario; unset: it is left out. */
const AMQP_URL = process.env.HERALD_AMQP_URL ?? process.env.HERALD_TEST_AMQP_URL ?? null;

async function baselineRoundTripMs(herald: HeraldProcess, samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) times.push(await healthzMs(herald));
  return median(times);
}

/** Sequential publishes; each sample is from just before the POST to the event's arrival. */
async function latencyRun(herald: HeraldProcess, stream: TestStream, publishToken: string, recipient: string, samples: number) {
  const times: number[] = [];
  const accepted: number[] = [];
  const start = stream.of('notification').length;
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    const arrived = stream.waitForEvents('notification', start + i + 1, 30_000);
    await publishOk(herald, publishToken, { recipients: [recipient], type: 'bench', content: `latency ${i}` });
    accepted.push(performance.now() - t0);
    await arrived;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p99: percentile(times, 99), accepted: median(accepted) };
}

/** `publishers` concurrent HTTP publishers, `total` notifications over the open streams; per second, until all arrived. */
async function httpIngestRun(herald: HeraldProcess, streams: TestStream[], publishToken: string, total: number, publishers: number) {
  const before = streams.map((s) => s.of('notification').length);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: publishers }, async () => {
    while (next < total) {
      const i = next++;
      await publishOk(herald, publishToken, { recipients: [`ingest-${i % streams.length}`], type: 'bench', content: `ingest ${i}` });
    }
  }));
  await waitAllDelivered(streams, before, total);
  return total / ((performance.now() - t0) / 1000);
}

function waitAllDelivered(streams: TestStream[], before: number[], total: number): Promise<unknown> {
  return Promise.all(streams.map((s, k) => {
    const share = Math.floor(total / streams.length) + (k < total % streams.length ? 1 : 0);
    return s.waitForEvents('notification', (before[k] ?? 0) + share, 120_000);
  }));
}

/** Messages sent to the ingest exchange with publisher confirms; per second, until all arrived on the streams. */
async function amqpIngestRun(rabbit: Connection, exchange: string, streams: TestStream[], total: number) {
  const before = streams.map((s) => s.of('notification').length);
  const publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 3, exchanges: [{ exchange, type: 'direct', durable: true }] });
  try {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: INGEST_PUBLISHERS }, async () => {
      while (next < total) {
        const i = next++;
        await publisher.send({ exchange, routingKey: 'notification', durable: true, contentType: 'application/json', messageId: `bench-${randomBytes(8).toString('hex')}` },
          { recipients: [`ingest-${i % streams.length}`], type: 'bench', content: `amqp ${i}`, publisher: 'bench' });
      }
    }));
    await waitAllDelivered(streams, before, total);
    return total / ((performance.now() - t0) / 1000);
  } finally {
    await publisher.close();
  }
}

/** One broadcast to many open streams: time until the last stream has it. */
async function fanoutRun(herald: HeraldProcess, streams: TestStream[], publishToken: string) {
  const before = streams.map((s) => s.of('notification').length);
  const t0 = performance.now();
  await publishOk(herald, publishToken, { topic: 'broadcast', type: 'bench', content: 'fan-out' });
  await Promise.all(streams.map((s, i) => s.waitForEvents('notification', (before[i] ?? 0) + 1, 30_000)));
  return performance.now() - t0;
}

/** 5 publishes to 1000 recipients each; the median 202 time of the last 3 (the first warm up). */
async function manyRecipientsRun(herald: HeraldProcess, publishToken: string, run: number) {
  const times: number[] = [];
  for (let p = 0; p < 5; p++) {
    const recipients = Array.from({ length: 1000 }, (_, i) => `many-${run}-${p}-${i}`);
    const t0 = performance.now();
    await publishOk(herald, publishToken, { recipients, type: 'bench', content: 'one to many' });
    times.push(performance.now() - t0);
  }
  return median(times.slice(2));
}

/** Targeted latency on one stream while 32 publishers push as fast as they can to others. */
async function mixedRun(herald: HeraldProcess, stream: TestStream, ingestStreams: TestStream[], publishToken: string) {
  let stop = false;
  let published = 0;
  const before = ingestStreams.map((s) => s.of('notification').length);
  const t0 = performance.now();
  const load = Promise.all(Array.from({ length: INGEST_PUBLISHERS }, async () => {
    // Bounded: the latency samples end the load, and so does a hard cap on its size.
    while (!stop && published < 200_000) {
      const i = published++;
      await publishOk(herald, publishToken, { recipients: [`ingest-${i % ingestStreams.length}`], type: 'bench', content: `mixed ${i}` });
    }
  }));
  try {
    const latency = await latencyRun(herald, stream, publishToken, 'bench', MIXED_SAMPLES);
    const ingestRate = published / ((performance.now() - t0) / 1000);
    return { p99: latency.p99, median: latency.median, ingestRate };
  } finally {
    stop = true;
    await load;
    // Drained before the next scenario counts arrivals on the same streams.
    await waitAllDelivered(ingestStreams, before, published);
  }
}

function machine(): BenchResults['machine'] {
  return { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

// info: the test helper learns the port from the "listening" log line.
const SERVER_ENV = {
  HERALD_LOG_LEVEL: 'info', HERALD_MAX_CONNECTIONS_PER_IP: '100000', HERALD_PUBLISH_RATE_PER_MINUTE: '10000000',
  HERALD_MAX_CONNECTIONS: '100000',
};

interface Target {
  name: string;
  herald: HeraldProcess;
  token: string;
  latency: TestStream;
  ingest: TestStream[];
}

async function target(name: string, herald: HeraldProcess, cleanups: Array<() => Promise<unknown>>): Promise<Target> {
  const streams: TestStream[] = [];
  cleanups.push(async () => { for (const s of streams) s.close(); });
  const latency = await openStream(herald.url, await herald.token('bench'));
  streams.push(latency);
  for (let i = 0; i < INGEST_USERS; i++) streams.push(await openStream(herald.url, await herald.token(`ingest-${i}`)));
  await Promise.all(streams.map((s) => s.waitForEvents('ready', 1, 30_000)));
  const token = await herald.token('bench-publisher', { scope: 'publish' });
  await latencyRun(herald, latency, token, 'bench', 50); // warm-up
  return { name, herald, token, latency, ingest: streams.slice(1) };
}

/** The scenarios above, on their shared Herald processes; results to bench/results/run.json. */
async function coreScenarios(): Promise<void> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopAll = async () => { for (const c of cleanups.reverse()) await c().catch((err: unknown) => console.error('cleanup:', err)); };
  try {
    const start = async (env: Record<string, string>) => {
      const h = await startHerald({ env: { ...SERVER_ENV, ...env } });
      cleanups.push(() => h.stop());
      return h;
    };
    const full = await target('sqlite', await start({}), cleanups);
    // The same server with SQLite's synchronous=NORMAL (no fsync per commit): what the durable commit costs.
    const relaxed = await target('sqlite-normal', await start({ HERALD_SQLITE_SYNCHRONOUS: 'normal' }), cleanups);

    let postgres: Target | null = null;
    if (PG_URL) {
      const name = `herald_bench_${randomBytes(5).toString('hex')}`;
      await withPg(PG_URL, (c) => c.query(`create database ${name}`));
      cleanups.push(() => withPg(PG_URL, (c) => c.query(`drop database if exists ${name} with (force)`)));
      const url = new URL(PG_URL);
      url.pathname = `/${name}`;
      postgres = await target('postgres', await start({ HERALD_DATABASE_URL: url.toString() }), cleanups);
    }

    let queue: { target: Target; rabbit: Connection; exchange: string } | null = null;
    if (AMQP_URL) {
      // Names of our own, removed at the end, so a shared broker keeps no bench leftovers.
      const suffix = randomBytes(4).toString('hex');
      const names = { exchange: `bench.ingest.${suffix}`, queue: `bench.ingest.${suffix}`, dlq: `bench.ingest.dlq.${suffix}`, bus: `bench.bus.${suffix}` };
      const rabbit = new Connection(AMQP_URL);
      cleanups.push(async () => {
        for (const q of [names.queue, names.dlq]) await rabbit.queueDelete({ queue: q }).catch(() => undefined);
        for (const e of [names.exchange, names.dlq, names.bus]) await rabbit.exchangeDelete({ exchange: e }).catch(() => undefined);
        await rabbit.close();
      });
      const herald = await start({
        HERALD_AMQP_URL: AMQP_URL, HERALD_AMQP_INGEST_EXCHANGE: names.exchange, HERALD_AMQP_INGEST_QUEUE: names.queue,
        HERALD_AMQP_DLQ: names.dlq, HERALD_AMQP_BUS_EXCHANGE: names.bus,
      });
      // Messages sent before Herald has bound its queue would be dropped as unroutable.
      await waitFor(() => herald.logs.some((l) => l.includes('ingest consumer ready')), 'the ingest consumer', 60_000);
      queue = { target: await target('sqlite+rabbitmq', herald, cleanups), rabbit, exchange: names.exchange };
    }

    const fanStreams: TestStream[] = [];
    cleanups.push(async () => { for (const s of fanStreams) s.close(); });
    for (let i = 0; i < FANOUT_STREAMS; i++) fanStreams.push(await openStream(full.herald.url, await full.herald.token(`fan-${i}`)));
    await Promise.all(fanStreams.map((s) => s.waitForEvents('ready', 1, 60_000)));

    const runs: RunRecord[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const record: RunRecord = { run };
      const note = (key: string, value: number) => { record[key] = value; };
      note('baseline', await baselineRoundTripMs(full.herald, 200));
      const latency = await latencyRun(full.herald, full.latency, full.token, 'bench', LATENCY_SAMPLES);
      note('latMedian', latency.median); note('latP99', latency.p99); note('accepted', latency.accepted);
      const relaxedLatency = await latencyRun(relaxed.herald, relaxed.latency, relaxed.token, 'bench', LATENCY_SAMPLES);
      note('relaxedMedian', relaxedLatency.median); note('relaxedP99', relaxedLatency.p99);
      note('throughput8', await httpIngestRun(full.herald, full.ingest, full.token, THROUGHPUT_PUBLISHES, 8));
      note('ingestHttp', await httpIngestRun(full.herald, full.ingest, full.token, INGEST_PUBLISHES, INGEST_PUBLISHERS));
      note('ingestHttpNormal', await httpIngestRun(relaxed.herald, relaxed.ingest, relaxed.token, INGEST_PUBLISHES, INGEST_PUBLISHERS));
      note('many', await manyRecipientsRun(full.herald, full.token, run));
      note('fanout', await fanoutRun(full.herald, fanStreams, full.token));
      const mixed = await mixedRun(full.herald, full.latency, full.ingest, full.token);
      note('mixedP99', mixed.p99); note('mixedMedian', mixed.median); note('mixedIngestRate', mixed.ingestRate);
      if (postgres) {
        const pgLatency = await latencyRun(postgres.herald, postgres.latency, postgres.token, 'bench', Math.min(LATENCY_SAMPLES, 300));
        note('pgLatMedian', pgLatency.median); note('pgLatP99', pgLatency.p99);
        note('pgIngestHttp', await httpIngestRun(postgres.herald, postgres.ingest, postgres.token, INGEST_PUBLISHES, INGEST_PUBLISHERS));
        note('pgMany', await manyRecipientsRun(postgres.herald, postgres.token, run));
      }
      if (queue) note('ingestAmqp', await amqpIngestRun(queue.rabbit, queue.exchange, queue.target.ingest, INGEST_PUBLISHES));
      runs.push(record);
      console.log(JSON.stringify(record));
    }

    const results: BenchResults = {
      date: new Date().toISOString(),
      machine: machine(),
      sizes: { runs: RUNS, latencySamples: LATENCY_SAMPLES, throughputPublishes: THROUGHPUT_PUBLISHES, ingestPublishes: INGEST_PUBLISHES, ingestPublishers: INGEST_PUBLISHERS, fanoutStreams: FANOUT_STREAMS, mixedSamples: MIXED_SAMPLES },
      stores: { postgres: postgres !== null, rabbitmq: queue !== null },
      runs,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(`${RESULTS_DIR}/run.json`, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await stopAll();
  }
}

/**
 * The delivery scenarios chosen, each on a Herald of its own, one after the other (10,000
 * streams of one must be closed before the next opens its own). Their results are merged
 * into bench/results/delivery.json: a scenario not run keeps what is stored.
 */
async function deliveryScenarios(names: DeliveryScenario[]): Promise<void> {
  const file = `${RESULTS_DIR}/delivery.json`;
  // BENCH_SOAK_VARIANT: a soak run to compare (another allocator, another setting) is kept
  // in churn-soak-<variant>.json beside the reference run, not over it.
  const variant = process.env.BENCH_SOAK_VARIANT ?? '';
  if (variant !== '' && !/^[a-z0-9-]+$/.test(variant)) throw new Error(`BENCH_SOAK_VARIANT names a file: lowercase letters, digits and dashes, not ${variant}`);
  for (const name of names) {
    const result = await runDeliveryScenario(name, SERVER_ENV, RUNS);
    if (name === 'churn-soak' && variant !== '') {
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(`${RESULTS_DIR}/churn-soak-${variant}.json`, `${JSON.stringify({ machine: machine(), ...result }, null, 2)}\n`);
      continue;
    }
    const stored: DeliveryResults = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as DeliveryResults : { machine: machine(), scenarios: {} };
    const merged: DeliveryResults = { machine: machine(), scenarios: { ...stored.scenarios, [name]: result } };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  }
}

/**
 * BENCH_ONLY: a comma-separated list of `core` (the scenarios of run.json) and delivery
 * scenarios; unset, all of them but the opt-in ones (the 10-minute churn soak), which run only when named.
 */
function chosenScenarios(): { core: boolean; delivery: DeliveryScenario[] } {
  const known = ['core', ...DELIVERY_SCENARIOS, ...OPT_IN_SCENARIOS];
  const only = (process.env.BENCH_ONLY ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '');
  const unknown = only.filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY names ${unknown.join(', ')}; known scenarios: ${known.join(', ')}`);
  const chosen = (n: string) => only.length === 0 || only.includes(n);
  return { core: chosen('core'), delivery: [...DELIVERY_SCENARIOS.filter(chosen), ...OPT_IN_SCENARIOS.filter((n) => only.includes(n))] };
}

async function main(): Promise<void> {
  const { core, delivery } = chosenScenarios();
  try {
    if (core) await coreScenarios();
    await deliveryScenarios(delivery);
    console.log(writeReport());
  } finally {
    agent.destroy();
  }
}

await main();
