// The load generator's main-thread half: a pool of reader threads (subscriber-worker.ts) that
// hold the streams, and a keep-alive publisher on raw sockets, paced to a rate.
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { ResponseReader } from './http-wire.js';
import { bucketOf, mergeInto, newStepCounts, percentiles, type StepCounts } from './marks.js';
import type { FromWorker, ToWorker } from './subscriber-worker.js';

const WORKER_FILE = new URL('./subscriber-worker.js', import.meta.url);

export interface OpenResult {
  ok: number;
  failed: number;
  /** Indexes (into the heads given) of the streams that did not open. */
  failedAt: Set<number>;
  statuses: Record<string, number>;
  /** From the first attempt to the last stream open. */
  seconds: number;
}
export interface ReaderStats { open: number; disconnects: number; steps: Map<number, StepCounts> }

/** The streams, spread round-robin over `threads` reader threads. */
export class Readers {
  private readonly workers: Worker[];

  constructor(threads: number) {
    this.workers = Array.from({ length: Math.max(1, threads) }, () => new Worker(WORKER_FILE));
  }

  private ask(worker: Worker, msg: ToWorker, answer: FromWorker['type'], timeoutMs: number): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { worker.off('message', onMessage); reject(new Error(`reader thread gave no ${answer} within ${timeoutMs} ms`)); }, timeoutMs);
      const onMessage = (m: FromWorker) => {
        if (m.type !== answer) return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        resolve(m);
      };
      worker.on('message', onMessage);
      worker.postMessage(msg);
    });
  }

  /** Opens one stream per request head; `ratePerS` caps the total opening rate (0: as fast as `concurrency` allows). */
  async open(host: string, port: number, heads: string[], ratePerS: number, concurrency = 256): Promise<OpenResult> {
    const n = this.workers.length;
    const t0 = performance.now();
    const answers = await Promise.all(this.workers.map((w, k) => this.ask(w, {
      type: 'open', host, port, heads: heads.filter((_, i) => i % n === k), ratePerS: ratePerS / n, concurrency: Math.ceil(concurrency / n),
    }, 'opened', 600_000)));
    const statuses: Record<string, number> = {};
    const failedAt = new Set<number>();
    let ok = 0, failed = 0, lastMs = 0;
    answers.forEach((a, k) => {
      if (a.type !== 'opened') return;
      ok += a.ok; failed += a.failed; lastMs = Math.max(lastMs, a.lastOkMs);
      for (const j of a.failedAt) failedAt.add(k + j * n);
      for (const [s, c] of Object.entries(a.statuses)) statuses[s] = (statuses[s] ?? 0) + c;
    });
    return { ok, failed, failedAt, statuses, seconds: (ok > 0 ? lastMs : performance.now() - t0) / 1000 };
  }

  async stats(): Promise<ReaderStats> {
    const answers = await Promise.all(this.workers.map((w) => this.ask(w, { type: 'stats' }, 'stats', 30_000)));
    const steps = new Map<number, StepCounts>();
    let open = 0, disconnects = 0;
    for (const a of answers) {
      if (a.type !== 'stats') continue;
      open += a.open; disconnects += a.disconnects;
      for (const [step, c] of a.steps) {
        if (!steps.has(step)) steps.set(step, newStepCounts());
        mergeInto(steps.get(step) as StepCounts, c);
      }
    }
    return { open, disconnects, steps };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(async (w) => {
      try { await this.ask(w, { type: 'close' }, 'closed', 10_000); } catch { /* terminated below */ }
      await w.terminate();
    }));
  }
}

/** One keep-alive publishing connection: one request in flight at a time. */
class PublishConnection {
  private socket: Socket | null = null;
  private waiting: ((status: number) => void) | null = null;
  private readonly reader = new ResponseReader({
    head: () => {},
    body: () => {},
    end: () => { const w = this.waiting, status = this.reader.status; this.waiting = null; this.reader.reset(); w?.(status); },
  });

  constructor(private readonly host: string, private readonly port: number) {}

  private connect(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (data: Buffer) => {
      try { this.reader.push(data); } catch { socket.destroy(); }
    });
    const fail = () => {
      if (this.socket === socket) this.socket = null;
      const w = this.waiting; this.waiting = null; this.reader.reset(); w?.(-1);
    };
    socket.on('error', fail);
    socket.on('close', fail);
    this.socket = socket;
    return socket;
  }

  /** Sends one request; resolves with the status (-1: the connection failed or timed out). */
  send(request: string, timeoutMs: number): Promise<number> {
    const socket = this.socket ?? this.connect();
    return new Promise((resolve) => {
      const timer = setTimeout(() => { socket.destroy(); }, timeoutMs);
      this.waiting = (status) => { clearTimeout(timer); resolve(status); };
      socket.write(request);
    });
  }

  close(): void { this.socket?.destroy(); this.socket = null; }
}

export interface PublishResult {
  sent: number; accepted: number; errors: number; statuses: Record<string, number>; seconds: number; rate: number;
  /** From writing a request to its answer's end. */
  httpMs: ReturnType<typeof percentiles>;
}

/**
 * Publishes at `rate` per second for `seconds` from `connections` keep-alive connections.
 * Request i is due at i / rate after the start; a connection that falls behind sends at once,
 * so the achieved rate says whether the server (or the generator) kept up. Nothing is sent
 * after the window; answers are awaited at most `timeoutMs` each.
 */
export async function publishPaced(opts: {
  host: string; port: number; connections: number; rate: number; seconds: number;
  request: (i: number) => string; accepted?: (i: number) => void; timeoutMs?: number;
}): Promise<PublishResult> {
  const conns = Array.from({ length: Math.max(1, opts.connections) }, () => new PublishConnection(opts.host, opts.port));
  const total = Math.max(1, Math.round(opts.rate * opts.seconds));
  const windowMs = opts.seconds * 1000;
  const statuses: Record<string, number> = {};
  const http = newStepCounts();
  let next = 0, sent = 0, accepted = 0, errors = 0;
  const t0 = performance.now();
  let lastAnswer = t0;
  await Promise.all(conns.map(async (c) => {
    while (next < total) {
      const i = next++;
      const due = t0 + (i * 1000) / opts.rate;
      let now = performance.now();
      if (due - now > 1) { await new Promise((r) => setTimeout(r, due - now)); now = performance.now(); }
      // A generator that fell far behind stops with the window (timers may run a little late).
      if (now - t0 > windowMs * 1.05 + 20) break;
      sent++;
      const request = opts.request(i);
      const sentAt = performance.now();
      const status = await c.send(request, opts.timeoutMs ?? 10_000);
      lastAnswer = performance.now();
      const us = (lastAnswer - sentAt) * 1000;
      const b = bucketOf(us);
      http.hist[b] = (http.hist[b] as number) + 1;
      http.maxUs = Math.max(http.maxUs, us);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) { accepted++; opts.accepted?.(i); } else errors++;
    }
  }));
  for (const c of conns) c.close();
  const seconds = Math.max(windowMs, lastAnswer - t0) / 1000;
  return { sent, accepted, errors, statuses, seconds, rate: accepted / seconds, httpMs: percentiles(http) };
}
