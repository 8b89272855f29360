// `npm run bench`: publish-to-arrival latency, publish throughput and broadcast fan-out of an
// embedded Herald, each against a baseline measured in the same run on the same server
// (an HTTP round trip to /healthz), so noisy shared machines compare like with like.
// Results go to docs/benchmarks.md. Every loop is bounded in count.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { startHerald, type HeraldProcess } from '../test/helpers/herald.js';
import { openStream, type TestStream } from '../test/helpers/sse-client.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 1000);
const THROUGHPUT_PUBLISHES = Number(process.env.BENCH_THROUGHPUT_PUBLISHES ?? 2000);
const FANOUT_STREAMS = Number(process.env.BENCH_FANOUT_STREAMS ?? 1000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

async function baselineRoundTripMs(herald: HeraldProcess, samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await (await fetch(`${herald.url}/healthz`)).text();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Sequential publishes; each sample is from just before the POST to the event's arrival. */
async function latencyRun(herald: HeraldProcess, stream: TestStream, publishToken: string, samples: number) {
  const times: number[] = [];
  const accepted: number[] = [];
  const start = stream.of('notification').length;
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    const arrived = stream.waitForEvents('notification', start + i + 1, 10_000);
    await herald.publish({ recipients: ['bench'], type: 'bench', content: `latency ${i}` }, publishToken);
    accepted.push(performance.now() - t0);
    await arrived;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p99: percentile(times, 99), accepted: median(accepted) };
}

/** 8 concurrent publishers; notifications per second accepted (202) and all delivered. */
async function throughputRun(herald: HeraldProcess, stream: TestStream, publishToken: string, total: number) {
  const start = stream.of('notification').length;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < total) {
      next += 1;
      await herald.publish({ recipients: ['bench'], type: 'bench', content: 'throughput' }, publishToken);
    }
  }));
  await stream.waitForEvents('notification', start + total, 60_000);
  return total / ((performance.now() - t0) / 1000);
}

/** One broadcast to many open streams: time until the last stream has it. */
async function fanoutRun(herald: HeraldProcess, streams: TestStream[], publishToken: string) {
  const before = streams.map((s) => s.of('notification').length);
  const t0 = performance.now();
  await herald.publish({ topic: 'broadcast', type: 'bench', content: 'fan-out' }, publishToken);
  await Promise.all(streams.map((s, i) => s.waitForEvents('notification', (before[i] ?? 0) + 1, 30_000)));
  return performance.now() - t0;
}

const SERVER_ENV = { HERALD_LOG_LEVEL: 'info', HERALD_MAX_CONNECTIONS_PER_IP: '100000', HERALD_PUBLISH_RATE_PER_MINUTE: '10000000' };

async function main(): Promise<void> {
  const herald = await startHerald({ env: SERVER_ENV });
  // The same server with SQLite's synchronous=NORMAL (no fsync per commit), to show what
  // the durable commit costs.
  const relaxed = await startHerald({ env: { ...SERVER_ENV, HERALD_SQLITE_SYNCHRONOUS: 'normal' } });
  try {
    const publishToken = await herald.token('bench-publisher', { scope: 'publish' });
    const stream = await openStream(herald.url, await herald.token('bench'));
    await stream.waitForEvents('ready', 1);
    await latencyRun(herald, stream, publishToken, 50); // warm-up
    const relaxedToken = await relaxed.token('bench-publisher', { scope: 'publish' });
    const relaxedStream = await openStream(relaxed.url, await relaxed.token('bench'));
    await relaxedStream.waitForEvents('ready', 1);
    await latencyRun(relaxed, relaxedStream, relaxedToken, 50);

    const rows: Array<{ run: number; baseline: number; latMedian: number; latP99: number; accepted: number; relaxedMedian: number; relaxedP99: number; throughput: number; fanout: number }> = [];
    const fanStreams: TestStream[] = [];
    for (let i = 0; i < FANOUT_STREAMS; i++) fanStreams.push(await openStream(herald.url, await herald.token(`fan-${i}`)));
    await Promise.all(fanStreams.map((s) => s.waitForEvents('ready', 1, 30_000)));
    for (let run = 1; run <= RUNS; run++) {
      const baseline = await baselineRoundTripMs(herald, 200);
      const latency = await latencyRun(herald, stream, publishToken, LATENCY_SAMPLES);
      const relaxedLatency = await latencyRun(relaxed, relaxedStream, relaxedToken, LATENCY_SAMPLES);
      const throughput = await throughputRun(herald, stream, publishToken, THROUGHPUT_PUBLISHES);
      const fanout = await fanoutRun(herald, fanStreams, publishToken);
      rows.push({
        run, baseline, latMedian: latency.median, latP99: latency.p99, accepted: latency.accepted,
        relaxedMedian: relaxedLatency.median, relaxedP99: relaxedLatency.p99, throughput, fanout,
      });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
    for (const s of fanStreams) s.close();
    stream.close();
    relaxedStream.close();

    const m = (key: keyof (typeof rows)[number]) => median(rows.map((r) => r[key] as number));
    const f = (n: number, digits = 2) => n.toFixed(digits);
    const report = `# Benchmarks

Written by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 10)}:
${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, embedded Herald
(SQLite, \`synchronous=FULL\`), client and server on one machine over loopback.
Each figure is the median of ${RUNS} runs; the baseline is an HTTP round trip to \`/healthz\`
on the same server in the same run, so ratios stay comparable on a noisy machine.

| measure | median of runs | vs. baseline round trip |
|---|---|---|
| baseline: \`GET /healthz\` round trip | ${f(m('baseline'))} ms | 1× |
| publish → arrival on an open stream, median (${LATENCY_SAMPLES} sequential publishes) | ${f(m('latMedian'))} ms | ${f(m('latMedian') / m('baseline'), 1)}× |
| publish → arrival, p99 | ${f(m('latP99'))} ms | ${f(m('latP99') / m('baseline'), 1)}× |
| publish → 202 answer (durable commit), median | ${f(m('accepted'))} ms | ${f(m('accepted') / m('baseline'), 1)}× |
| publish → arrival with \`HERALD_SQLITE_SYNCHRONOUS=normal\` (no fsync), median | ${f(m('relaxedMedian'))} ms | ${f(m('relaxedMedian') / m('baseline'), 1)}× |
| same, p99 | ${f(m('relaxedP99'))} ms | ${f(m('relaxedP99') / m('baseline'), 1)}× |
| publish throughput, 8 concurrent publishers, all delivered (${THROUGHPUT_PUBLISHES} per run) | ${f(m('throughput'), 0)} notifications/s | — |
| one broadcast → ${FANOUT_STREAMS} open streams, until the last has it | ${f(m('fanout'))} ms | ${f(m('fanout') / m('baseline'), 1)}× |

Latency is measured from just before the \`POST /v1/notifications\` to the event's arrival
on the stream, so it includes the publish request, the durable SQLite commit (fsync) and
the SSE delivery; the same client process drives both sides.

Per-run figures:

| run | baseline ms | latency median ms | latency p99 ms | 202 median ms | normal: median ms | normal: p99 ms | throughput /s | fan-out ms |
|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.run} | ${f(r.baseline)} | ${f(r.latMedian)} | ${f(r.latP99)} | ${f(r.accepted)} | ${f(r.relaxedMedian)} | ${f(r.relaxedP99)} | ${f(r.throughput, 0)} | ${f(r.fanout)} |`).join('\n')}

Repeat with \`npm run bench\` (\`BENCH_RUNS\`, \`BENCH_LATENCY_SAMPLES\`, \`BENCH_THROUGHPUT_PUBLISHES\`,
\`BENCH_FANOUT_STREAMS\` change the sizes).
`;
    writeFileSync('docs/benchmarks.md', report);
    console.log(report);
  } finally {
    await herald.stop();
    await relaxed.stop();
  }
}

await main();
