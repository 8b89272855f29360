// The side-by-side scenarios, one fresh server each. A scenario opens its streams, settles,
// then runs steps: a step publishes at one rate for a fixed time, waits (bounded) for the
// deliveries it expects, and reads latency, loss and CPU for that step alone (each payload
// names its step, marks.ts). Stepped scenarios stop at the first step not held.
import { publishPaced, Readers } from './loadgen.js';
import { mark, percentiles, newStepCounts } from './marks.js';
import type { Peer, RunningPeer } from './peers.js';
import { cpuMeter, groupMemory, groupPids, selfCpuMeter } from './proc-stats.js';
import { held, type CompareRecord, type ScenarioName, type StepRecord } from './records.js';

export interface Sizes {
  /** Streams for open, idle, broadcast and targeted (one user each). */
  streams: number;
  /** Streams opened per second at most while a scenario sets up (open itself is not capped). */
  rampRate: number;
  /** Streams being opened at once. */
  openConcurrency: number;
  settleS: number;
  broadcastRate: number;
  durationS: number;
  maxStreams: number;
  maxRates: number[];
  maxPublishers: number;
  stepS: number;
  targetedRate: number;
  targetedPublishers: number;
  ingestUsers: number;
  ingestRates: number[];
  ingestPublishers: number;
  /** Longest wait for a step's deliveries after its last publish. */
  drainS: number;
  threads: number;
}

/** Held, and the publishers reached 90% of the rate asked: the next step is worth trying. */
const keptUp = (s: StepRecord) => held(s) && s.rate_achieved >= 0.9 * s.rate_target;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

interface Context { peer: Peer; server: RunningPeer; readers: Readers; sizes: Sizes }

async function openStreams(ctx: Context, count: number, broadcast: boolean, ratePerS: number) {
  const heads = Array.from({ length: count }, (_, u) => ctx.peer.subscribe(u, broadcast));
  const opened = await ctx.readers.open(ctx.server.host, ctx.server.port, heads, ratePerS, ctx.sizes.openConcurrency);
  const users = Array.from({ length: count }, (_, u) => u).filter((u) => !opened.failedAt.has(u));
  return { opened, users };
}

/** One step: publish at `rate` for `seconds`, then wait for what should arrive. */
async function step(ctx: Context, n: number, opts: { rate: number; seconds: number; publishers: number; users: number[] | null; openStreams: number }): Promise<StepRecord> {
  const cpu = cpuMeter(ctx.server.group);
  const self = selfCpuMeter();
  let expected = 0;
  const targets: number[] = [];
  const pub = await publishPaced({
    host: ctx.server.host, port: ctx.server.port, connections: opts.publishers, rate: opts.rate, seconds: opts.seconds,
    request: (i) => {
      if (opts.users === null) return ctx.peer.publish(null, mark(n));
      const u = opts.users[Math.floor(Math.random() * opts.users.length)] as number;
      targets[i] = u;
      return ctx.peer.publish(u, mark(n));
    },
    accepted: () => { expected += opts.users === null ? opts.openStreams : 1; },
  });
  const server_cpu_pct = cpu.percent();
  const loadgen_cpu_pct = self.percent();
  const deadline = Date.now() + ctx.sizes.drainS * 1000;
  let counts = (await ctx.readers.stats()).steps.get(n) ?? newStepCounts();
  while (counts.delivered < expected && Date.now() < deadline) {
    await sleep(100);
    counts = (await ctx.readers.stats()).steps.get(n) ?? newStepCounts();
  }
  const lost = Math.max(0, expected - counts.delivered);
  return {
    step: n,
    rate_target: opts.rate,
    rate_achieved: round(pub.rate, 1),
    publish_s: round(pub.seconds, 3),
    published: pub.accepted,
    pub_errors: pub.errors,
    pub_statuses: pub.statuses,
    publish_http_ms: pub.httpMs,
    expected,
    delivered: counts.delivered,
    lost,
    loss_pct: expected > 0 ? round((100 * lost) / expected, 3) : 0,
    dup: Math.max(0, counts.delivered - expected),
    deliveries_per_s: round(counts.delivered / pub.seconds, 1),
    latency_ms: percentiles(counts),
    server_cpu_pct: round(server_cpu_pct, 1),
    loadgen_cpu_pct: round(loadgen_cpu_pct, 1),
  };
}

async function stepped(ctx: Context, rates: number[], run: (n: number, rate: number) => Promise<StepRecord>): Promise<StepRecord[]> {
  const steps: StepRecord[] = [];
  for (const [n, rate] of rates.entries()) {
    const s = await run(n, rate);
    steps.push(s);
    if (!keptUp(s)) break;
  }
  return steps;
}

/** Runs one scenario against a started server; the caller stops the server. */
export async function runScenario(scenario: ScenarioName, peer: Peer, server: RunningPeer, sizes: Sizes, rep: number): Promise<CompareRecord> {
  const t0 = performance.now();
  const readers = new Readers(sizes.threads);
  const ctx: Context = { peer, server, readers, sizes };
  const z = sizes;
  try {
    const memBefore = groupMemory(server.group);
    let count = z.streams;
    let record: Partial<CompareRecord> & { steps: StepRecord[] } = { steps: [] };
    let recordSizes: Record<string, number> = {};
    let opened;
    switch (scenario) {
      case 'open': {
        recordSizes = { streams: count, concurrency: z.openConcurrency };
        opened = (await openStreams(ctx, count, true, 0)).opened;
        break;
      }
      case 'idle': {
        recordSizes = { streams: count, ramp_rate: z.rampRate, settle_s: z.settleS };
        opened = (await openStreams(ctx, count, true, z.rampRate)).opened;
        await sleep(z.settleS * 1000);
        const memConnected = groupMemory(server.group);
        record = {
          steps: [], mem_before: memBefore, mem_connected: memConnected,
          kb_per_conn_rss: opened.ok > 0 ? round((memConnected.rss_kb - memBefore.rss_kb) / opened.ok) : NaN,
          kb_per_conn_pss: opened.ok > 0 ? round((memConnected.pss_kb - memBefore.pss_kb) / opened.ok) : NaN,
        };
        break;
      }
      case 'broadcast': {
        recordSizes = { streams: count, rate: z.broadcastRate, seconds: z.durationS, publishers: 1 };
        opened = (await openStreams(ctx, count, true, z.rampRate)).opened;
        await sleep(z.settleS * 1000);
        record.steps = [await step(ctx, 0, { rate: z.broadcastRate, seconds: z.durationS, publishers: 1, users: null, openStreams: opened.ok })];
        break;
      }
      case 'max-broadcast': {
        count = z.maxStreams;
        recordSizes = { streams: count, seconds: z.stepS, publishers: z.maxPublishers };
        opened = (await openStreams(ctx, count, true, z.rampRate)).opened;
        await sleep(z.settleS * 1000);
        const ok = opened.ok;
        record.steps = await stepped(ctx, z.maxRates, (n, rate) => step(ctx, n, { rate, seconds: z.stepS, publishers: z.maxPublishers, users: null, openStreams: ok }));
        break;
      }
      case 'targeted': {
        recordSizes = { streams: count, rate: z.targetedRate, seconds: z.durationS, publishers: z.targetedPublishers };
        const o = await openStreams(ctx, count, false, z.rampRate);
        opened = o.opened;
        await sleep(z.settleS * 1000);
        record.steps = [await step(ctx, 0, { rate: z.targetedRate, seconds: z.durationS, publishers: z.targetedPublishers, users: o.users, openStreams: 1 })];
        break;
      }
      case 'ingest': {
        count = z.ingestUsers;
        recordSizes = { streams: count, seconds: z.stepS, publishers: z.ingestPublishers };
        const o = await openStreams(ctx, count, false, z.rampRate);
        opened = o.opened;
        await sleep(z.settleS * 1000);
        record.steps = await stepped(ctx, z.ingestRates, (n, rate) => step(ctx, n, { rate, seconds: z.stepS, publishers: z.ingestPublishers, users: o.users, openStreams: 1 }));
        break;
      }
    }
    const end = await readers.stats();
    return {
      runner: 'bench/compare',
      label: `${peer.name}/${scenario}/${rep}`,
      peer: peer.name,
      scenario,
      rep,
      time: new Date().toISOString(),
      sizes: recordSizes,
      conns_target: count,
      conns_connected: opened.ok,
      conns_failed: opened.failed,
      open_statuses: opened.statuses,
      open_s: round(opened.seconds, 3),
      disconnects: end.disconnects,
      server_group: server.group,
      server_pids: groupPids(server.group),
      ...record,
      wall_s: round((performance.now() - t0) / 1000, 1),
    };
  } finally {
    await readers.close();
  }
}
