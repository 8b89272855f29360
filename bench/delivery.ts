// Delivery correctness under load (issue 25, items 1–3), measured rather than asserted: each
// scenario starts its own Herald, opens its streams once, measures BENCH_RUNS times and
// stops everything it started. Run from bench/run.ts; BENCH_ONLY selects them. The churn soak
// (bench/churn-soak.ts) is stored beside them but runs only when named: it takes 10 minutes.
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { startHerald, type HeraldProcess } from '../test/helpers/herald.js';
import { waitFor } from '../test/helpers/wait.js';
import { median, publishOk } from './http.js';
import { churnSoak, SOAK_SERVER_ENV, SOAK_SIZES } from './churn-soak.js';
import type { ProbeCommand, ProbeSetup, ProbeTimes } from './probe-worker.js';
import type { RunRecord } from './report.js';
import { openCountingStream, openCountingStreams, openStalledReader, type CountingStream, type StalledReader } from './stream-counters.js';

export const DELIVERY_SCENARIOS = ['expiry-stall', 'closed-sockets', 'burst', 'burst-large'] as const;
/** Scenarios that run only when BENCH_ONLY names them. */
export const OPT_IN_SCENARIOS = ['churn-soak'] as const;
type DefaultScenario = (typeof DELIVERY_SCENARIOS)[number];
export type DeliveryScenario = DefaultScenario | (typeof OPT_IN_SCENARIOS)[number];

export interface ScenarioResult {
  date: string;
  sizes: Record<string, number>;
  runs: RunRecord[];
  /** Figures over the whole scenario, beside its rows (the churn soak's delivery checks). */
  summary?: Record<string, number>;
  /** Variables given to the Herald process beyond the bench's own (the churn soak's BENCH_SOAK_SERVER_ENV). */
  serverEnv?: string;
  /** What else was particular to this run, in words (the churn soak's BENCH_SOAK_NOTE). */
  note?: string;
}

const envNumber = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

const SIZES = {
  'expiry-stall': {
    // 10,000 streams here and as many sockets in the Herald: both under the 20,000 open files a process may hold.
    streams: envNumber('BENCH_EXPIRY_STREAMS', 10_000),
    /** Broadcast rows stored before the streams open: every audience's recount reads them. */
    backlog: envNumber('BENCH_EXPIRY_BACKLOG', 6000),
    /** Broadcasts published per run with an expiry; each is delivered live to every stream first. */
    expiring: envNumber('BENCH_EXPIRY_ROWS', 10),
    aheadMs: envNumber('BENCH_EXPIRY_AHEAD_MS', 2000),
  },
  'closed-sockets': {
    streams: envNumber('BENCH_CLOSE_STREAMS', 200),
    /** Broadcasts of 60 KiB each queued to the stalled readers: 150 is ~9 MB each, more than loopback's socket buffers take. */
    publishes: envNumber('BENCH_CLOSE_PUBLISHES', 150),
    graceMs: envNumber('BENCH_CLOSE_GRACE_MS', 1000),
    tokenTtlS: envNumber('BENCH_CLOSE_TOKEN_TTL_S', 10),
  },
  burst: {
    streams: envNumber('BENCH_BURST_STREAMS', 1000),
    events: envNumber('BENCH_BURST_EVENTS', 1000),
    inFlight: envNumber('BENCH_BURST_IN_FLIGHT', 64),
    contentBytes: envNumber('BENCH_BURST_CONTENT_BYTES', 1024),
  },
  // Payloads as large as the default content limit allows: a group commit's batch then puts
  // more than the 1 MiB slow-reader bound on each stream in one turn, which is what cut
  // readers that kept up before the fix (all 100 of them in this scenario; 0 of 1000 in `burst`).
  'burst-large': {
    streams: envNumber('BENCH_BURST_LARGE_STREAMS', 100),
    events: envNumber('BENCH_BURST_LARGE_EVENTS', 200),
    inFlight: envNumber('BENCH_BURST_IN_FLIGHT', 64),
    contentBytes: envNumber('BENCH_BURST_LARGE_CONTENT_BYTES', 60_000),
  },
} satisfies Record<DefaultScenario, Record<string, number>>;

/** `total` publishes, `inFlight` at a time; `body(i)` is the i-th. */
async function publishMany(herald: HeraldProcess, token: string, total: number, inFlight: number, body: (i: number) => unknown): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, async () => {
    while (next < total) await publishOk(herald, token, body(next++));
  }));
}

interface Probe {
  /** /healthz and probe publish times from now until `window` settles. */
  measure(window: Promise<unknown>): Promise<ProbeTimes>;
  close(): Promise<void>;
}

/** Starts bench/probe-worker.ts; resolves once its probe stream is ready. */
async function startProbe(setup: ProbeSetup): Promise<Probe> {
  const worker = new Worker(new URL('./probe-worker.js', import.meta.url), { workerData: setup });
  const next = <T>() => new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await next<'ready'>();
  return {
    async measure(window) {
      worker.postMessage({ cmd: 'start', healthzEveryMs: 10, publishEveryMs: 20 } satisfies ProbeCommand);
      await window.catch(() => undefined);
      const times = next<ProbeTimes>();
      worker.postMessage({ cmd: 'stop' } satisfies ProbeCommand);
      return times;
    },
    async close() {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage({ cmd: 'exit' } satisfies ProbeCommand);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      await worker.terminate();
    },
  };
}

/**
 * Item 1: broadcast notifications expire while many streams are open; every audience
 * recounts. The node must keep answering: the slowest /healthz (asked every 10 ms) and
 * targeted publishes made meanwhile, beside the same measures just before.
 */
async function expiryStall(serverEnv: Record<string, string>, runs: number): Promise<RunRecord[]> {
  const size = SIZES['expiry-stall'];
  const herald = await startHerald({ env: serverEnv });
  const streams: CountingStream[] = [];
  let probe: Probe | null = null;
  try {
    const token = await herald.token('bench-publisher', { scope: 'publish' });
    await publishMany(herald, token, size.backlog, 32, (i) => ({ topic: 'broadcast', type: 'backlog', content: `old ${i}` }));
    streams.push(...await openCountingStreams(herald, 'reader-', size.streams));
    await waitFor(() => streams.every((s) => s.count('ready') === 1), `${size.streams} streams ready`, 300_000, 100);
    probe = await startProbe({ url: herald.url, publishToken: token, probeToken: await herald.token('expiry-probe', { scope: 'subscribe' }), probeUser: 'expiry-probe' });
    const records: RunRecord[] = [];
    for (let run = 1; run <= runs; run++) {
      const expiredBefore = streams.map((s) => s.count('notification.expired'));
      const deliveredBefore = streams.map((s) => s.count('notification'));
      const quietUntil = Date.now() + 1000;
      const baseline = await probe.measure(waitFor(() => Date.now() >= quietUntil, 'a second of baseline', 2000));

      const expiresAtMs = Date.now() + size.aheadMs;
      const expiresAt = new Date(expiresAtMs).toISOString();
      await publishMany(herald, token, size.expiring, 8, (i) => ({ topic: 'broadcast', type: 'flash', content: `expiring ${run}.${i}`, expires_at: expiresAt }));
      await waitFor(() => streams.every((s, k) => s.count('notification') >= (deliveredBefore[k] ?? 0) + size.expiring || s.ended()),
        'the expiring broadcasts on every stream', 120_000, 20);
      const deliveredBeforeExpiry = Date.now() < expiresAtMs;
      // The window measured opens at the expiry time (the sweeper then finds them within a second).
      await waitFor(() => Date.now() >= expiresAtMs, 'the expiry time', size.aheadMs + 1000);
      const told = (s: CountingStream, k: number) => s.count('notification.expired') > (expiredBefore[k] ?? 0);
      let toldAllAt = NaN;
      // A wait that times out is recorded (`told` says how many were told), not thrown.
      const allTold = waitFor(() => streams.every((s, k) => told(s, k) || s.ended()), 'the expiry on every stream', 180_000, 10)
        .then(() => { toldAllAt = Date.now(); }, (err: unknown) => console.error(String(err)));
      const during = await probe.measure(allTold);
      const record: RunRecord = {
        run,
        baselineMedian: median(baseline.healthz),
        baselineMax: Math.max(...baseline.healthz),
        healthzMax: Math.max(...during.healthz),
        stallRatio: Math.max(...during.healthz) / median(baseline.healthz),
        stallVsBaselineMax: Math.max(...during.healthz) / Math.max(...baseline.healthz),
        healthzMedian: median(during.healthz),
        healthzSamples: during.healthz.length,
        publishBaseline: median(baseline.publishes),
        publishBaselineMax: Math.max(...baseline.publishes),
        publishDuringMedian: median(during.publishes),
        publishDuringMax: Math.max(...during.publishes),
        publishDuringSamples: during.publishes.length,
        windowMs: toldAllAt - expiresAtMs,
        told: streams.filter(told).length,
        ended: streams.filter((s) => s.ended()).length,
        deliveredBeforeExpiry: deliveredBeforeExpiry ? 1 : 0,
      };
      records.push(record);
      console.log(JSON.stringify({ scenario: 'expiry-stall', ...record }));
    }
    return records;
  } finally {
    await probe?.close();
    for (const s of streams) s.close();
    await herald.stop();
  }
}

/** The server's sockets connected to `clientPorts`: how many are still established, and how many the process still holds (any state). */
function serverSockets(serverPort: number, clientPorts: Set<number>): { established: number; held: number; orphaned: number } {
  const out = execFileSync('ss', ['-Htanp', 'state', 'all', `( sport = :${serverPort} )`], { encoding: 'utf8' });
  let established = 0;
  let held = 0;
  let orphaned = 0;
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const [state, , , , peer] = cols;
    if (!state || !peer || !clientPorts.has(Number(peer.slice(peer.lastIndexOf(':') + 1)))) continue;
    if (state === 'TIME-WAIT' || state === 'CLOSED') continue;
    if (state === 'ESTAB') established++;
    if (line.includes('users:(')) held++;
    else orphaned++;
  }
  return { established, held, orphaned };
}

/**
 * Item 2: streams whose readers stopped reading, with megabytes queued, are closed at token
 * expiry; after the close grace no connection of theirs may be left.
 */
async function closedSockets(serverEnv: Record<string, string>, runs: number): Promise<RunRecord[]> {
  const size = SIZES['closed-sockets'];
  const herald = await startHerald({ env: {
    ...serverEnv,
    // Above what is queued: these readers are closed at token expiry, not cut as slow.
    HERALD_STREAM_BUFFER_BYTES: String(64 * 1024 * 1024),
    HERALD_STREAM_CLOSE_GRACE_MS: String(size.graceMs),
  } });
  const readers: StalledReader[] = [];
  try {
    const token = await herald.token('bench-publisher', { scope: 'publish' });
    const content = 'x'.repeat(60_000);
    const closedSeries = 'herald_stream_closed_total{reason="token_expired"}';
    const records: RunRecord[] = [];
    for (let run = 1; run <= runs; run++) {
      const closedBefore = await herald.metric(closedSeries);
      const opened: StalledReader[] = [];
      for (let i = 0; i < size.streams; i++) {
        opened.push(await openStalledReader(herald.port, await herald.token(`stalled-${run}-${i}`, { scope: 'subscribe', ttlS: size.tokenTtlS })));
      }
      readers.push(...opened);
      const ports = new Set(opened.map((r) => r.port));
      const openAtStart = serverSockets(herald.port, ports).established;
      const t0 = performance.now();
      await publishMany(herald, token, size.publishes, 8, (i) => ({ topic: 'broadcast', type: 'bulk', content: `${i} ${content}` }));
      const queuedMs = performance.now() - t0;
      // Every reader is closed by the node's sweep once its token expires.
      await waitFor(async () => (await herald.metric(closedSeries)) - closedBefore >= size.streams, 'every stalled stream closed at token expiry', size.tokenTtlS * 1000 + 30_000, 50);
      const closedAt = performance.now();
      let left = serverSockets(herald.port, ports);
      await waitFor(() => { left = serverSockets(herald.port, ports); return left.held === 0 && left.established === 0; },
        'the closed streams\' sockets to be dropped', size.graceMs + 5000, 50).catch(() => undefined);
      const freedMs = left.held === 0 && left.established === 0 ? performance.now() - closedAt : NaN;
      const record: RunRecord = {
        run, openAtStart, queuedMs, freedMs,
        leftEstablished: left.established, leftHeld: left.held, orphaned: left.orphaned,
      };
      records.push(record);
      console.log(JSON.stringify({ scenario: 'closed-sockets', ...record }));
      for (const r of opened) r.socket.destroy();
    }
    return records;
  } finally {
    for (const r of readers) r.socket.destroy();
    await herald.stop();
  }
}

/**
 * Item 3: readers that read as fast as they can get a burst of broadcasts published at once;
 * none may be cut as a slow consumer, and every one gets every event.
 */
async function burst(size: { streams: number; events: number; inFlight: number; contentBytes: number }, serverEnv: Record<string, string>, runs: number): Promise<RunRecord[]> {
  const herald = await startHerald({ env: serverEnv });
  const streams: CountingStream[] = [];
  try {
    const token = await herald.token('bench-publisher', { scope: 'publish' });
    streams.push(...await openCountingStreams(herald, 'burst-', size.streams));
    await waitFor(() => streams.every((s) => s.count('ready') >= 1), `${size.streams} streams ready`, 120_000, 50);
    const content = 'b'.repeat(size.contentBytes);
    const slowSeries = 'herald_stream_closed_total{reason="slow_consumer"}';
    const records: RunRecord[] = [];
    for (let run = 1; run <= runs; run++) {
      // A stream cut in an earlier run is opened again, so every run starts with all of them.
      for (let i = 0; i < streams.length; i++) {
        if (!streams[i]?.ended()) continue;
        const fresh = await openCountingStream(herald.url, await herald.token(`burst-${i}`, { scope: 'subscribe' }));
        await waitFor(() => fresh.count('ready') >= 1, 'a reopened stream ready', 30_000);
        streams[i] = fresh;
      }
      const before = streams.map((s) => s.count('notification'));
      const slowBefore = await herald.metric(slowSeries);
      const t0 = performance.now();
      await publishMany(herald, token, size.events, size.inFlight, (i) => ({ topic: 'broadcast', type: 'burst', content: `${run}.${i} ${content}` }));
      const acceptedMs = performance.now() - t0;
      const complete = (s: CountingStream, k: number) => s.count('notification') >= (before[k] ?? 0) + size.events;
      await waitFor(() => streams.every((s, k) => complete(s, k) || s.ended()), 'the burst on every stream (or its end)', 300_000, 10);
      const burstMs = performance.now() - t0;
      const record: RunRecord = {
        run, acceptedMs, burstMs,
        deliveriesPerS: (size.streams * size.events) / (burstMs / 1000),
        cut: (await herald.metric(slowSeries)) - slowBefore,
        ended: streams.filter((s) => s.ended()).length,
        complete: streams.filter(complete).length,
      };
      records.push(record);
      console.log(JSON.stringify({ scenario: 'burst', ...size, ...record }));
    }
    return records;
  } finally {
    for (const s of streams) s.close();
    await herald.stop();
  }
}

const RUNNERS: Record<DefaultScenario, (serverEnv: Record<string, string>, runs: number) => Promise<RunRecord[]>> = {
  'expiry-stall': expiryStall,
  'closed-sockets': closedSockets,
  burst: (serverEnv, runs) => burst(SIZES.burst, serverEnv, runs),
  'burst-large': (serverEnv, runs) => burst(SIZES['burst-large'], serverEnv, runs),
};

/** Runs one scenario `runs` times on a Herald of its own, started with `serverEnv`. */
export async function runDeliveryScenario(name: DeliveryScenario, serverEnv: Record<string, string>, runs: number): Promise<ScenarioResult> {
  if (name === 'churn-soak') {
    // One long run, sampled: its rows are minutes, not repetitions.
    const { rows, summary } = await churnSoak(serverEnv);
    return { date: new Date().toISOString(), sizes: { runs: 1, ...SOAK_SIZES }, runs: rows, summary, serverEnv: SOAK_SERVER_ENV, note: process.env.BENCH_SOAK_NOTE ?? '' };
  }
  const records = await RUNNERS[name](serverEnv, runs);
  return { date: new Date().toISOString(), sizes: { runs, ...SIZES[name] }, runs: records };
}
