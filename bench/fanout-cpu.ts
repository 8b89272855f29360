// CPU per delivery of a broadcast to many streams, in one process: the hub, sessions and
// sockets of a real app (test/core/harness.ts) and raw-socket readers that only count.
// Usage: npm run build && node dist/bench/fanout-cpu.js   (STREAMS=1000 EVENTS=300 RUNS=3)
import { connect, type Socket } from 'node:net';
import { startCore } from '../test/core/harness.js';

const STREAMS = Number(process.env.STREAMS ?? 1000);
const EVENTS = Number(process.env.EVENTS ?? 300);
const RUNS = Number(process.env.RUNS ?? 3);
const MARK = Buffer.from('event: notification');

async function once(): Promise<{ ms: number; cpuMs: number; deliveriesPerS: number }> {
  const herald = await startCore({ env: { HERALD_MAX_CONNECTIONS_PER_IP: String(STREAMS * 2) } });
  const port = Number(new URL(herald.url).port);
  let received = 0;
  const sockets: Socket[] = [];
  for (let i = 0; i < STREAMS; i++) {
    const token = await herald.token(`u${i}`);
    const socket = connect(port, '127.0.0.1');
    socket.on('data', (chunk: Buffer) => {
      for (let at = chunk.indexOf(MARK); at !== -1; at = chunk.indexOf(MARK, at + 1)) received++;
    });
    socket.write(`GET /v1/stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    sockets.push(socket);
  }
  for (let i = 0; i < 1000 && herald.hub.size < STREAMS; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < EVENTS; i++) {
    await herald.publisher.publish({
      publisher: 'bench', idempotencyKey: null, requestHash: 'x', recipients: null, topic: 'broadcast',
      type: 'bench', title: null, content: `broadcast ${i} ${'z'.repeat(100)}`, data: null, critical: false,
    }, 'http');
  }
  const deadline = Date.now() + 120_000;
  while (received < STREAMS * EVENTS && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  for (const socket of sockets) socket.destroy();
  await herald.close();
  if (received < STREAMS * EVENTS) throw new Error(`only ${received} of ${STREAMS * EVENTS} deliveries arrived`);
  return { ms: Math.round(ms), cpuMs: Math.round((used.user + used.system) / 1000), deliveriesPerS: Math.round((STREAMS * EVENTS) / ms * 1000) };
}

const runs = [];
for (let i = 0; i < RUNS; i++) runs.push(await once());
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
console.log(JSON.stringify({
  streams: STREAMS, events: EVENTS, runs,
  median: { cpuMs: median(runs.map((r) => r.cpuMs)), ms: median(runs.map((r) => r.ms)), deliveriesPerS: median(runs.map((r) => r.deliveriesPerS)) },
  cpuUsPerDelivery: Number((median(runs.map((r) => r.cpuMs)) * 1000 / (STREAMS * EVENTS)).toFixed(2)),
}));
process.exit(0);
