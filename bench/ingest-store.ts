// The durable write path on its own: how many notifications per second the store accepts
// from concurrent publishers, and how fast one publish to many recipients is stored, on
// SQLite (synchronous=FULL) and PostgreSQL. Every loop is bounded in count; each figure is
// the median of BENCH_RUNS runs.
//
//   npm run build && node dist/bench/ingest-store.js [store|http] [sqlite|postgres ...]
//
// The batch figure: BATCH_PUBLISHERS (4) publishers each sending batches of BATCH_SIZE (500)
// single-recipient notifications (POST /v1/notifications/batch in `http` mode,
// NotificationPublisher.publishBatch in `store` mode), BENCH_BATCHES (40) batches in all;
// notifications committed per second, and in `http` mode the server's CPU per notification and
// where the publishes waited (mean queue wait, transaction time and publishes per transaction,
// from the herald_publish_* histograms).
//
// `store` drives NotificationPublisher in this process (the store and the ingest path, no
// HTTP); `http` starts Herald on a random port and POSTs /v1/notifications. PostgreSQL comes
// from HERALD_TEST_PG_URL, read from .tmp/services.env when it is not set (start it with
// `bash scripts/services/up.sh`). BENCH_CPU_PROF_DIR=<dir> also writes the Herald server's
// CPU profile there (`http` mode; `node --cpu-prof` profiles `store` mode).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { MemoryBus } from '../src/bus/memory-bus.js';
import { toPublishRequest } from '../src/ingest/publish-request.js';
import { NotificationPublisher } from '../src/ingest/publisher.js';
import { Metrics } from '../src/metrics.js';
import { openStore } from '../src/store/open-store.js';
import type { NotificationStore } from '../src/store/store.js';
import { startHerald } from '../test/helpers/herald.js';
import { createPgDatabase } from '../test/helpers/services.js';
import { RESULTS_DIR } from './report.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PUBLISHERS = Number(process.env.BENCH_PUBLISHERS ?? 32);
const PUBLISHES = Number(process.env.BENCH_PUBLISHES ?? 6000);
const FANOUT_RECIPIENTS = 1000;
const BATCH_PUBLISHERS = Number(process.env.BATCH_PUBLISHERS ?? 4);
const BATCH_SIZE = Number(process.env.BATCH_SIZE ?? 500);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 40);
const LIMITS = { maxRecipients: FANOUT_RECIPIENTS, maxContentBytes: 65536, maxDataBytes: 16384 };

type Backend = 'sqlite' | 'postgres';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function loadServicesEnv(): void {
  if (process.env.HERALD_TEST_PG_URL || !existsSync('.tmp/services.env')) return;
  for (const line of readFileSync('.tmp/services.env', 'utf8').split('\n')) {
    const match = /^export (\w+)='(.*)'$/.exec(line);
    if (match?.[1] && process.env[match[1]] === undefined) process.env[match[1]] = match[2];
  }
}

/** A fresh database URL for one backend and the function that removes it. */
async function freshDatabase(backend: Backend): Promise<{ url: string; drop(): Promise<void> }> {
  if (backend === 'postgres') return createPgDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  return { url: join(dir, 'herald.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** `total` single-recipient publishes from `publishers` concurrent callers; notifications/s. */
async function concurrentPublishes(publish: (i: number) => Promise<void>, total: number, publishers: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: publishers }, async () => {
    while (next < total) {
      const i = next++;
      await publish(i);
    }
  }));
  return total / ((performance.now() - t0) / 1000);
}

const recipients = Array.from({ length: FANOUT_RECIPIENTS }, (_, i) => `member-${i}`);

interface Result {
  ingest: number;
  fanout: number;
  /** Notifications per second committed by batch publishes. */
  batch: number;
  /** `http` mode: the server's CPU (user + system) per batched notification, µs. */
  batchCpuUs?: number;
  /** `store` mode: p99 of this process's event-loop delay while ingesting, what every stream's delivery waits behind. */
  loopP99Ms?: number;
  /** `http` mode: where the single publishes and the batches waited (the herald_publish_* histograms). */
  ingestStages?: Stages;
  batchStages?: Stages;
}

/** Means over a workload: queue wait before a transaction, the transaction, publishes per transaction. */
interface Stages { queueMs: number; transactionMs: number; perTransaction: number }
type StageSums = Record<'queueSum' | 'queueCount' | 'txSum' | 'txCount' | 'sizeSum', number>;

async function stageSums(herald: { metric(series: string): Promise<number> }): Promise<StageSums> {
  return {
    queueSum: await herald.metric('herald_publish_queue_seconds_sum'),
    queueCount: await herald.metric('herald_publish_queue_seconds_count'),
    txSum: await herald.metric('herald_publish_transaction_seconds_sum'),
    txCount: await herald.metric('herald_publish_transaction_seconds_count'),
    sizeSum: await herald.metric('herald_publish_transaction_publishes_sum'),
  };
}

function stagesBetween(a: StageSums, b: StageSums): Stages {
  const round = (n: number) => Number(n.toFixed(2));
  return {
    queueMs: round((1000 * (b.queueSum - a.queueSum)) / (b.queueCount - a.queueCount)),
    transactionMs: round((1000 * (b.txSum - a.txSum)) / (b.txCount - a.txCount)),
    perTransaction: round((b.sizeSum - a.sizeSum) / (b.txCount - a.txCount)),
  };
}

async function storeScenario(backend: Backend): Promise<Result> {
  const db = await freshDatabase(backend);
  let store: NotificationStore | null = null;
  try {
    store = await openStore(db.url);
    await store.migrate();
    const publisher = new NotificationPublisher(store, new MemoryBus(), new Metrics());
    const one = (i: number) => toPublishRequest({ recipients: [`user-${i % 10_000}`], type: 'bench', content: `ingest ${i}` }, 'bench', LIMITS);
    await concurrentPublishes(async (i) => { await publisher.publish(one(i), 'http'); }, 500, PUBLISHERS); // warm-up
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const ingest = await concurrentPublishes(async (i) => { await publisher.publish(one(i), 'http'); }, PUBLISHES, PUBLISHERS);
    loop.disable();
    // 5 timed publishes, the last 3 count (the first ones create the topic rows).
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const request = toPublishRequest({ recipients, type: 'bench', content: `fan-out ${i}` }, 'bench', LIMITS);
      const t0 = performance.now();
      await publisher.publish(request, 'http');
      times.push(performance.now() - t0);
    }
    const batchOf = (b: number) => Array.from({ length: BATCH_SIZE }, (_, i) => one(b * BATCH_SIZE + i));
    const batch = BATCH_SIZE * await concurrentPublishes(async (b) => {
      const outcomes = await publisher.publishBatch(batchOf(b), 'http');
      if (!outcomes.every((o) => o.ok)) throw new Error('a batch item failed');
    }, BATCHES, BATCH_PUBLISHERS);
    return { ingest, fanout: FANOUT_RECIPIENTS / (median(times.slice(2)) / 1000), batch, loopP99Ms: loop.percentile(99) / 1e6 };
  } finally {
    await store?.close();
    await db.drop();
  }
}

async function httpScenario(backend: Backend): Promise<Result> {
  const db = await freshDatabase(backend);
  const herald = await startHerald({
    env: {
      HERALD_DATABASE_URL: db.url, HERALD_LOG_LEVEL: 'info', HERALD_PUBLISH_RATE_PER_MINUTE: '10000000',
      ...(process.env.BENCH_CPU_PROF_DIR ? { NODE_OPTIONS: `--import=${fileURLToPath(new URL('./ingest-cpu-profile.js', import.meta.url))}`, BENCH_CPU_PROF_DIR: process.env.BENCH_CPU_PROF_DIR } : {}),
    },
  });
  try {
    const token = await herald.token('bench-publisher', { scope: 'publish' });
    const post = async (body: unknown) => {
      const res = await herald.publish(body, token);
      if (res.status !== 202) throw new Error(`publish answered ${res.status}: ${JSON.stringify(res.body)}`);
    };
    const one = (i: number) => ({ recipients: [`user-${i % 10_000}`], type: 'bench', content: `ingest ${i}` });
    await concurrentPublishes((i) => post(one(i)), 500, PUBLISHERS);
    const ingestBefore = await stageSums(herald);
    const ingest = await concurrentPublishes((i) => post(one(i)), PUBLISHES, PUBLISHERS);
    const ingestStages = stagesBetween(ingestBefore, await stageSums(herald));
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await post({ recipients, type: 'bench', content: `fan-out ${i}` });
      times.push(performance.now() - t0);
    }
    const postBatch = async (b: number) => {
      const notifications = Array.from({ length: BATCH_SIZE }, (_, i) => one(b * BATCH_SIZE + i));
      const res = await fetch(`${herald.url}/v1/notifications/batch`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ notifications }),
      });
      const answer = await res.json() as { results?: Array<{ status: number }> };
      if (res.status !== 200 || !answer.results?.every((r) => r.status === 202)) throw new Error(`batch answered ${res.status}: ${JSON.stringify(answer).slice(0, 300)}`);
    };
    await concurrentPublishes(postBatch, BATCH_PUBLISHERS, BATCH_PUBLISHERS); // warm-up
    const cpuBefore = await herald.metric('herald_process_cpu_seconds_total');
    const batchBefore = await stageSums(herald);
    const batch = BATCH_SIZE * await concurrentPublishes(postBatch, BATCHES, BATCH_PUBLISHERS);
    const batchCpuUs = ((await herald.metric('herald_process_cpu_seconds_total')) - cpuBefore) * 1e6 / (BATCHES * BATCH_SIZE);
    const batchStages = stagesBetween(batchBefore, await stageSums(herald));
    // A clean exit, so the server writes its CPU profile.
    if (process.env.BENCH_CPU_PROF_DIR) await herald.kill('SIGTERM');
    return { ingest, fanout: FANOUT_RECIPIENTS / (median(times.slice(2)) / 1000), batch, batchCpuUs, ingestStages, batchStages };
  } finally {
    await herald.stop();
    await db.drop();
  }
}

async function main(): Promise<void> {
  loadServicesEnv();
  const args = process.argv.slice(2);
  const mode = args.includes('http') ? 'http' : 'store';
  const backends = (['sqlite', 'postgres'] as const).filter((b) => args.includes(b));
  const rows: string[] = [];
  for (const backend of backends.length > 0 ? backends : (['sqlite', 'postgres'] as const)) {
    const runs: Result[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const result = mode === 'http' ? await httpScenario(backend) : await storeScenario(backend);
      runs.push(result);
      console.log(JSON.stringify({
        mode, backend, run, ingestPerS: Math.round(result.ingest), fanoutRowsPerS: Math.round(result.fanout), batchPerS: Math.round(result.batch),
        batchCpuUs: result.batchCpuUs === undefined ? undefined : Number(result.batchCpuUs.toFixed(1)), loopP99Ms: result.loopP99Ms,
        ingestStages: result.ingestStages, batchStages: result.batchStages,
      }));
    }
    console.log(`${mode} ${backend}: ${PUBLISHERS} publishers, median ${Math.round(median(runs.map((r) => r.ingest)))} notifications/s; ` +
      `${FANOUT_RECIPIENTS}-recipient publish, median ${Math.round(median(runs.map((r) => r.fanout)))} stored notifications/s` +
      `; batches of ${BATCH_SIZE} from ${BATCH_PUBLISHERS} publishers, median ${Math.round(median(runs.map((r) => r.batch)))} notifications/s` +
      (mode === 'http' ? ` (server CPU ${median(runs.map((r) => r.batchCpuUs ?? NaN)).toFixed(1)} µs each)` : '') +
      (mode === 'store' ? `; event-loop delay p99 while ingesting, median ${median(runs.map((r) => r.loopP99Ms ?? NaN)).toFixed(1)} ms` : ''));
    const cpu = median(runs.map((r) => r.batchCpuUs ?? NaN));
    rows.push(`| ${backend} | ${Math.round(median(runs.map((r) => r.ingest)))} | ${Math.round(median(runs.map((r) => r.fanout)))} | ` +
      `${Math.round(median(runs.map((r) => r.batch)))} | ${Number.isFinite(cpu) ? cpu.toFixed(1) : '–'} |`);
  }
  if (mode === 'http') {
    // Kept for docs/benchmarks.md (bench/report.ts), like request-cost.md.
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(`${RESULTS_DIR}/ingest-store.md`, [
      `Herald over HTTP (synchronous=FULL on SQLite), median of ${RUNS} runs, measured ${new Date().toISOString().slice(0, 10)}: ` +
      `${PUBLISHERS} publishers sending single-recipient publishes; one ${FANOUT_RECIPIENTS}-recipient publish; ` +
      `${BATCH_PUBLISHERS} publishers sending batches of ${BATCH_SIZE} (\`POST /v1/notifications/batch\`), ${BATCHES} batches in all.`,
      '',
      `| store | publishes, notifications/s | ${FANOUT_RECIPIENTS}-recipient publish, rows/s | batches, notifications/s | server CPU per batched notification, µs |`,
      '|---|---|---|---|---|',
      ...rows,
    ].join('\n') + '\n');
  }
}

await main();
