// The churn soak (issue 24.5), a benchmark and not a test: for BENCH_SOAK_MINUTES, streams
// that close after random lifetimes and open again (half with their cursor, half without)
// while notifications flow at BENCH_SOAK_RATE, and every BENCH_SOAK_SAMPLE_S the server's
// RSS and open file descriptors (from /proc), its heap and event-loop delay (from /metrics)
// and a /healthz round trip. Each row also splits the RSS: the main thread's V8 heap, the
// SQLite writer thread's, and what glibc's malloc holds (bench/proc-memory.ts). A server
// that leaks per connection or per publish shows it as a slope after the first minute. Run
// from bench/run.ts with BENCH_ONLY=churn-soak; every loop is bounded by the soak's duration
// and everything it starts is stopped.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { Worker } from 'node:worker_threads';
import { startHerald } from '../test/helpers/herald.js';
import type { ChurnCommand, ChurnSetup, ChurnStats, FinishResult } from './churn-worker.js';
import { healthzMs, median, percentile, post } from './http.js';
import { nativeMemory, parseSmaps } from './proc-memory.js';
import type { RunRecord } from './report.js';

const envNumber = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

export const SOAK_SIZES = {
  minutes: envNumber('BENCH_SOAK_MINUTES', 10),
  streams: envNumber('BENCH_SOAK_STREAMS', 2000),
  /** Publishes per second, all of them. */
  rate: envNumber('BENCH_SOAK_RATE', 200),
  /** One publish in this many is a broadcast (to every stream); the others go to one random user. */
  broadcastEvery: envNumber('BENCH_SOAK_BROADCAST_EVERY', 200),
  minLifeS: envNumber('BENCH_SOAK_MIN_LIFE_S', 1),
  maxLifeS: envNumber('BENCH_SOAK_MAX_LIFE_S', 30),
  /** Between two streams a slot is away for a random time up to this (ms). */
  maxAwayMs: envNumber('BENCH_SOAK_MAX_AWAY_MS', 2000),
  /** One row per this many seconds (a minute; shorter for trial runs). */
  sampleS: envNumber('BENCH_SOAK_SAMPLE_S', 60),
  /** /proc and /metrics are read this often: a row's memory is also given as the lowest read in its interval (nearest the level after a collection), its delay as the highest. */
  scrapeS: envNumber('BENCH_SOAK_SCRAPE_S', 5),
};

/**
 * BENCH_SOAK_SERVER_ENV: `NAME=value` pairs, space-separated, for the Herald process only,
 * to compare allocators: `MALLOC_ARENA_MAX=2`, or
 * `LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2` (Debian's libjemalloc2).
 */
export const SOAK_SERVER_ENV = process.env.BENCH_SOAK_SERVER_ENV ?? '';

function serverEnvPairs(text: string): Record<string, string> {
  const pairs = text.split(/\s+/).filter((p) => p !== '');
  const bad = pairs.filter((p) => !/^[A-Z_][A-Z0-9_]*=/.test(p));
  if (bad.length > 0) throw new Error(`BENCH_SOAK_SERVER_ENV takes NAME=value pairs; not one: ${bad.join(' ')}`);
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
}

/** The Herald process listening on `port`, as `ss` names it (its pid). */
function pidListeningOn(port: number): number {
  const out = execFileSync('ss', ['-Htlnp', `( sport = :${port} )`], { encoding: 'utf8' });
  const pid = /pid=(\d+)/.exec(out)?.[1];
  if (pid === undefined) throw new Error(`no process found listening on port ${port}`);
  return Number(pid);
}

/** RSS and its anonymous part (the process's own allocations, not mapped files), in bytes, and open descriptors, from /proc. */
function procFigures(pid: number): { rss: number; anon: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** The samples of a /metrics text, by series (name with its labels). */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

async function scrape(url: string): Promise<Map<string, number>> {
  return parseMetrics(await (await fetch(`${url}/metrics`)).text());
}

// The names prom-client's collectDefaultMetrics gives them, with Herald's prefix. The
// delay percentiles cover the time since the previous scrape (prom-client resets its
// histogram at each), so nothing else may read /metrics during the soak.
const HEAP_USED = 'herald_nodejs_heap_size_used_bytes';
/** What V8 has taken from the system for the heap (used or not): part of the RSS. */
const HEAP_TOTAL = 'herald_nodejs_heap_size_total_bytes';
/** The SQLite writer thread's heap: its own isolate, outside the two above. */
const WRITER_USED = 'herald_writer_heap_bytes{kind="used"}';
const WRITER_TOTAL = 'herald_writer_heap_bytes{kind="total"}';
/** Memory of C++ objects bound to JS ones (Buffers among them), outside the heap. */
const EXTERNAL = 'herald_nodejs_external_memory_bytes';
const LAG_P99 = 'herald_nodejs_eventloop_lag_p99_seconds';
const LAG_MAX = 'herald_nodejs_eventloop_lag_max_seconds';
const CONNECTIONS = 'herald_stream_connections';
const REPLAYED = 'herald_replayed_total';

interface Window {
  rssFloor: number;
  anonFloor: number;
  externalFloor: number;
  heapFloor: number;
  lagP99: number;
  lagMax: number;
  healthz: number[];
  published: number;
  publishErrors: number;
}

const freshWindow = (): Window => ({ rssFloor: Infinity, anonFloor: Infinity, externalFloor: Infinity, heapFloor: Infinity, lagP99: 0, lagMax: 0, healthz: [], published: 0, publishErrors: 0 });

function startWorker(setup: ChurnSetup) {
  const worker = new Worker(new URL('./churn-worker.js', import.meta.url), { workerData: setup });
  let failure: unknown = null;
  worker.on('error', (err) => { failure = err; });
  const next = <T>(timeoutMs: number) => new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { worker.off('message', onMessage); reject(new Error('the churn worker did not answer')); }, timeoutMs);
    const onMessage = (value: T) => { clearTimeout(timer); resolve(value); };
    worker.once('message', onMessage);
    if (failure !== null) reject(failure as Error);
  });
  const ask = <T>(command: ChurnCommand, timeoutMs = 10_000) => {
    const answer = next<T>(timeoutMs);
    worker.postMessage(command);
    return answer;
  };
  return {
    ready: next<{ ready: number }>(300_000),
    /** Streams start closing at the end of their lifetimes (until now they stay open). */
    start: () => worker.postMessage({ cmd: 'start' } satisfies ChurnCommand),
    stats: () => ask<ChurnStats>({ cmd: 'stats' }),
    finish: (expectedPerUser: number[], broadcasts: number, timeoutMs: number) =>
      ask<FinishResult>({ cmd: 'finish', expectedPerUser, broadcasts, timeoutMs }, timeoutMs + 10_000),
    async close() {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage({ cmd: 'exit' } satisfies ChurnCommand);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      await worker.terminate();
    },
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface SoakResult {
  /** One row per sample: `run` is its number, `minute` when it was taken. */
  rows: RunRecord[];
  /** Delivery figures over the whole soak. */
  summary: Record<string, number>;
}

export async function churnSoak(serverEnv: Record<string, string>): Promise<SoakResult> {
  const size = SOAK_SIZES;
  const herald = await startHerald({
    env: { ...serverEnv, ...(process.env.BENCH_SOAK_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SOAK_NODE_OPTIONS } : {}), ...serverEnvPairs(SOAK_SERVER_ENV) },
  });
  // The publishers' own pool, apart from the probe's: a queue of publishes never delays /healthz.
  const publishAgent = new Agent({ keepAlive: true, maxSockets: 32 });
  const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const durationMs = size.minutes * 60_000;
  const worker = startWorker({
    url: herald.url, secret: herald.secret, streams: size.streams,
    minLifeMs: size.minLifeS * 1000, maxLifeMs: size.maxLifeS * 1000, maxAwayMs: size.maxAwayMs, maxRunMs: durationMs + 600_000,
  });
  let running = true;
  const loops: Array<Promise<unknown>> = [];
  try {
    const pid = pidListeningOn(herald.port);
    const { ready } = await worker.ready;
    if (ready < size.streams) throw new Error(`only ${ready} of ${size.streams} streams opened`);
    const token = await herald.token('soak-publisher', { scope: 'publish' });
    const perUser = new Array<number>(size.streams).fill(0);
    let broadcasts = 0;
    let window = freshWindow();
    let published = 0;
    let publishErrors = 0;
    let inFlightMax = 0;

    /** The interval's lowest memory reads, and its highest event-loop delay. */
    const lowest = (proc: ReturnType<typeof procFigures>, metrics: Map<string, number>) => {
      window.rssFloor = Math.min(window.rssFloor, proc.rss);
      window.anonFloor = Math.min(window.anonFloor, proc.anon);
      window.heapFloor = Math.min(window.heapFloor, metrics.get(HEAP_USED) ?? NaN);
      window.externalFloor = Math.min(window.externalFloor, metrics.get(EXTERNAL) ?? NaN);
      window.lagP99 = Math.max(window.lagP99, metrics.get(LAG_P99) ?? 0);
      window.lagMax = Math.max(window.lagMax, metrics.get(LAG_MAX) ?? 0);
    };
    const rows: RunRecord[] = [];
    const t0 = Date.now();
    const endAt = t0 + durationMs;
    let statsBefore = await worker.stats();
    let replayedBefore = (await scrape(herald.url)).get(REPLAYED) ?? 0;
    const row = async (): Promise<RunRecord> => {
      const proc = procFigures(pid);
      const native = nativeMemory(parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8')));
      const metrics = await scrape(herald.url);
      lowest(proc, metrics);
      const stats = await worker.stats();
      const replayed = metrics.get(REPLAYED) ?? 0;
      const healthz = [...window.healthz].sort((a, b) => a - b);
      const seconds = size.sampleS;
      const record: RunRecord = {
        run: rows.length,
        minute: (Date.now() - t0) / 60_000,
        rssMiB: proc.rss / 2 ** 20,
        rssFloorMiB: window.rssFloor / 2 ** 20,
        rssAnonFloorMiB: window.anonFloor / 2 ** 20,
        externalFloorMiB: window.externalFloor / 2 ** 20,
        heapUsedMiB: (metrics.get(HEAP_USED) ?? NaN) / 2 ** 20,
        heapFloorMiB: window.heapFloor / 2 ** 20,
        heapTotalMiB: (metrics.get(HEAP_TOTAL) ?? NaN) / 2 ** 20,
        writerHeapUsedMiB: (metrics.get(WRITER_USED) ?? NaN) / 2 ** 20,
        writerHeapTotalMiB: (metrics.get(WRITER_TOTAL) ?? NaN) / 2 ** 20,
        mainArenaMiB: native.mainArenaKiB / 1024,
        threadArenasMiB: native.threadArenasKiB / 1024,
        threadArenas: native.threadArenas,
        otherAnonMiB: native.otherAnonKiB / 1024,
        fds: proc.fds,
        connections: metrics.get(CONNECTIONS) ?? NaN,
        lagP99Ms: window.lagP99 * 1000,
        lagMaxMs: window.lagMax * 1000,
        healthzMedianMs: percentile(healthz, 50),
        healthzMaxMs: healthz[healthz.length - 1] ?? NaN,
        publishesPerS: window.published / seconds,
        publishErrors: window.publishErrors,
        reconnectsPerS: (stats.opened - statsBefore.opened) / seconds,
        deliveriesPerS: (stats.notifications - statsBefore.notifications) / seconds,
        caughtUp: stats.caughtUp - statsBefore.caughtUp,
        replayed: replayed - replayedBefore,
        gaps: stats.gaps - statsBefore.gaps,
        duplicates: stats.duplicates - statsBefore.duplicates,
        resets: stats.resets - statsBefore.resets,
        openErrors: stats.openErrors - statsBefore.openErrors,
      };
      statsBefore = stats;
      replayedBefore = replayed;
      window = freshWindow();
      rows.push(record);
      console.log(JSON.stringify({ scenario: 'churn-soak', ...record }));
      return record;
    };
    // Row 0: every stream open, nothing published, no churn yet.
    await row();

    const publishOne = async (i: number) => {
      const broadcast = i % size.broadcastEvery === size.broadcastEvery - 1;
      const user = Math.floor(Math.random() * size.streams);
      const body = broadcast
        ? { topic: 'broadcast', type: 'soak', content: `broadcast ${i}` }
        : { recipients: [`soak-${user}`], type: 'soak', content: `soak ${i}` };
      const status = await post(`${herald.url}/v1/notifications`, token, body, publishAgent).catch(() => 0);
      if (status === 202) {
        if (broadcast) broadcasts++;
        else perUser[user] = (perUser[user] ?? 0) + 1;
        published++;
        window.published++;
      } else {
        publishErrors++;
        window.publishErrors++;
      }
    };
    // Publishes paced to the rate from t0: each tick sends what the clock says is due, with
    // at most 64 in flight (a server that falls behind is seen as a lower rate, not a pile-up).
    loops.push((async () => {
      let due = 0;
      let inFlight = 0;
      while (running && Date.now() < endAt) {
        const target = Math.floor(((Date.now() - t0) / 1000) * size.rate);
        while (due < target && inFlight < 64) {
          inFlight++;
          inFlightMax = Math.max(inFlightMax, inFlight);
          void publishOne(due++).finally(() => { inFlight--; });
        }
        if (due < target) due = target; // skipped: the server or this process fell behind
        await pause(20);
      }
      while (inFlight > 0) await pause(20);
    })());
    loops.push((async () => {
      while (running && Date.now() < endAt) {
        window.healthz.push(await healthzMs(herald, probeAgent));
        await pause(1000);
      }
    })());
    loops.push((async () => {
      while (running && Date.now() < endAt) {
        await pause(size.scrapeS * 1000);
        const metrics = await scrape(herald.url);
        lowest(procFigures(pid), metrics);
        window.lagP99 = Math.max(window.lagP99, metrics.get(LAG_P99) ?? 0);
        window.lagMax = Math.max(window.lagMax, metrics.get(LAG_MAX) ?? 0);
      }
    })());

    worker.start();
    const samples = Math.round((size.minutes * 60) / size.sampleS);
    for (let k = 1; k <= samples; k++) {
      await pause(Math.max(0, t0 + k * size.sampleS * 1000 - Date.now()));
      await row();
    }
    running = false;
    await Promise.all(loops);
    // Every cursor-keeping slot must end with every notification published to it and every broadcast.
    const finish = await worker.finish(perUser, broadcasts, 120_000);
    const summary: Record<string, number> = {
      published, publishErrors, broadcasts, inFlightMax,
      opens: finish.stats.opened, cursorOpens: finish.stats.cursorOpens, openErrors: finish.stats.openErrors,
      endedEarly: finish.stats.endedEarly,
      notifications: finish.stats.notifications, gaps: finish.stats.gaps, duplicates: finish.stats.duplicates,
      resets: finish.stats.resets, resumeMismatches: finish.stats.resumeMismatches,
      caughtUp: finish.stats.caughtUp, oldOnFresh: finish.stats.oldOnFresh,
      cursorSlots: finish.cursorSlots, cursorSlotsComplete: finish.complete, missing: finish.missing,
      healthzMedianMs: median(rows.map((r) => r.healthzMedianMs ?? NaN)),
    };
    console.log(JSON.stringify({ scenario: 'churn-soak', summary }));
    return { rows, summary };
  } finally {
    running = false;
    await Promise.allSettled(loops);
    await worker.close();
    publishAgent.destroy();
    probeAgent.destroy();
    await herald.stop();
  }
}
