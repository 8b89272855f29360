// Where a publish's time goes under load: Herald on SQLite, PUBLISHERS (32) keep-alive
// publishers on raw sockets (the side-by-side comparison's load generator) paced to each rate
// in RATES for STEP_S seconds, no streams open. Per rate: the rate achieved, the answer's p50,
// and from Herald's own histograms the mean wait for a transaction to start, the mean
// transaction, the publishes per transaction, and the server's CPU per publish.
//   npm run build && node dist/bench/publish-stages.js
//   RATES=2000,6000 HERALD_SQLITE_SYNCHRONOUS=normal node dist/bench/publish-stages.js
// A rate the server cannot hold shows as an achieved rate below it: the publishers wait for
// each answer before sending the next request. Herald logs at `info`, as in production (one
// access line per request).
import { publishPaced } from './compare/loadgen.js';
import { startHerald } from '../test/helpers/herald.js';

const PUBLISHERS = Number(process.env.PUBLISHERS ?? 32);
const RATES = (process.env.RATES ?? '1000,2000,4000,6000,8000').split(',').map(Number);
const STEP_S = Number(process.env.STEP_S ?? 5);
const USERS = 1000;

const SERIES = {
  queueSum: 'herald_publish_queue_seconds_sum',
  queueCount: 'herald_publish_queue_seconds_count',
  transactionSum: 'herald_publish_transaction_seconds_sum',
  transactions: 'herald_publish_transaction_seconds_count',
  publishes: 'herald_publish_transaction_publishes_sum',
  cpuS: 'herald_process_cpu_seconds_total',
} as const;
type Sample = Record<keyof typeof SERIES, number>;

async function sample(herald: { metric(series: string): Promise<number> }): Promise<Sample> {
  const entries = await Promise.all(Object.entries(SERIES).map(async ([key, series]) => [key, await herald.metric(series)] as const));
  return Object.fromEntries(entries) as Sample;
}

const herald = await startHerald({
  env: {
    // startHerald waits for the `listening` line, logged at info.
    HERALD_LOG_LEVEL: 'info',
    HERALD_PUBLISH_RATE_PER_MINUTE: '10000000',
    HERALD_USER_RATE_PER_MINUTE: '10000000',
    ...(process.env.HERALD_SQLITE_SYNCHRONOUS ? { HERALD_SQLITE_SYNCHRONOUS: process.env.HERALD_SQLITE_SYNCHRONOUS } : {}),
  },
});
try {
  const token = await herald.token('bench-publisher', { scope: 'publish' });
  const request = (i: number) => {
    const body = JSON.stringify({ recipients: [`u${i % USERS}`], type: 'bench', content: `stage ${i}` });
    return `POST /v1/notifications HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  const paced = (rate: number, seconds: number) => publishPaced({ host: '127.0.0.1', port: herald.port, connections: PUBLISHERS, rate, seconds, request });
  await paced(500, 2); // warm-up: the users' topic rows, the JIT
  console.log('| asked /s | achieved /s | answer p50, ms | queue wait, ms | transaction, ms | publishes per transaction | server CPU per publish, µs |');
  console.log('|---|---|---|---|---|---|---|');
  for (const rate of RATES) {
    const before = await sample(herald);
    const result = await paced(rate, STEP_S);
    const after = await sample(herald);
    const d = (key: keyof Sample) => after[key] - before[key];
    if (result.errors > 0) console.error(`${rate}/s: ${result.errors} publishes failed: ${JSON.stringify(result.statuses)}`);
    console.log(`| ${rate} | ${Math.round(result.rate)} | ${result.httpMs.p50.toFixed(2)} | ${(1000 * d('queueSum') / d('queueCount')).toFixed(2)} | `
      + `${(1000 * d('transactionSum') / d('transactions')).toFixed(2)} | ${(d('publishes') / d('transactions')).toFixed(1)} | ${Math.round(1e6 * d('cpuS') / result.accepted)} |`);
  }
} finally {
  await herald.stop();
}
