// One of the load generator's reader threads. It opens its share of the streams on raw
// sockets (one request head each, no HTTP client), then only scans what arrives for marks
// (marks.ts): no event object, no line array, nothing kept per event but a histogram bucket.
// Every wait is bounded: a stream whose head does not come within OPEN_TIMEOUT_MS counts as failed.
import { connect, type Socket } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { ResponseReader } from './http-wire.js';
import { nowUs, scanMarks, type StepCounts } from './marks.js';

export type ToWorker =
  | { type: 'open'; host: string; port: number; heads: string[]; ratePerS: number; concurrency: number }
  | { type: 'stats' }
  | { type: 'close' };

export type FromWorker =
  | { type: 'opened'; ok: number; failed: number; failedAt: number[]; statuses: Record<string, number>; lastOkMs: number }
  | { type: 'stats'; open: number; disconnects: number; steps: Array<[number, StepCounts]> }
  | { type: 'closed' };

const OPEN_TIMEOUT_MS = 30_000;

const counts = new Map<number, StepCounts>();
const sockets = new Set<Socket>();
let disconnects = 0;
let closing = false;

function openOne(host: string, port: number, head: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, noDelay: true });
    let settled = false;
    let tail = '';
    const settle = (status: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(status);
    };
    const timer = setTimeout(() => { socket.destroy(); settle(-1); }, OPEN_TIMEOUT_MS);
    const reader = new ResponseReader({
      head: (status) => {
        if (status === 200) { sockets.add(socket); settle(200); } else { socket.destroy(); settle(status); }
      },
      body: (chunk) => { tail = scanMarks(tail + chunk.toString('latin1'), counts, nowUs()); },
      end: () => socket.destroy(),
    });
    socket.on('data', (data: Buffer) => {
      try { reader.push(data); } catch { socket.destroy(); }
    });
    socket.on('error', () => settle(-2));
    socket.on('close', () => {
      settle(-3);
      if (sockets.delete(socket) && !closing) disconnects++;
    });
    socket.write(head);
  });
}

async function openAll(msg: Extract<ToWorker, { type: 'open' }>): Promise<FromWorker> {
  const statuses: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  const failedAt: number[] = [];
  let next = 0;
  let lastOkMs = 0;
  const t0 = performance.now();
  const gapMs = msg.ratePerS > 0 ? 1000 / msg.ratePerS : 0;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(msg.concurrency, msg.heads.length)) }, async () => {
    while (next < msg.heads.length && !closing) {
      const i = next++;
      // Paced: the i-th stream starts no earlier than i / rate after the first.
      const due = t0 + i * gapMs - performance.now();
      if (due > 1) await new Promise((r) => setTimeout(r, due));
      const status = await openOne(msg.host, msg.port, msg.heads[i] as string);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) { ok++; lastOkMs = performance.now() - t0; } else { failed++; failedAt.push(i); }
    }
  }));
  return { type: 'opened', ok, failed, failedAt, statuses, lastOkMs };
}

parentPort?.on('message', (msg: ToWorker) => {
  if (msg.type === 'open') {
    void openAll(msg).then((answer) => parentPort?.postMessage(answer));
  } else if (msg.type === 'stats') {
    const answer: FromWorker = { type: 'stats', open: sockets.size, disconnects, steps: [...counts] };
    parentPort?.postMessage(answer);
  } else if (msg.type === 'close') {
    closing = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
    parentPort?.postMessage({ type: 'closed' } satisfies FromWorker);
    parentPort?.close();
  }
});
