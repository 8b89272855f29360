// Measures the memory one open stream costs an embedded Herald: opens 2000 streams
// (raw sockets, distinct users) and reports resident memory and V8 heap per stream.
// Run after `npm run build`:  node --expose-gc scripts/stream-memory.mjs [streams]
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '../dist/src/auth/jwt.js';
import { loadConfig } from '../dist/src/config.js';
import { startHerald } from '../dist/src/main.js';

const count = Number(process.argv[2] ?? 2000);
const secret = 'x'.repeat(40);
const dir = mkdtempSync(join(tmpdir(), 'herald-memory-'));
const herald = await startHerald(loadConfig({
  HERALD_PORT: '0', HERALD_DATABASE_URL: join(dir, 'herald.db'), HERALD_LOG_LEVEL: 'warn', HERALD_JWT_SECRET: secret, HERALD_DRAIN_MS: '0',
}));
const port = Number(new URL(herald.url).port);
const usage = () => { globalThis.gc?.(); return process.memoryUsage(); };

async function open(n) {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const token = await mintToken(secret, { sub: `u${i}`, scope: 'subscribe', ttlS: 3600 });
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    await new Promise((resolve) => {
      let seen = '';
      socket.on('data', (chunk) => { seen += chunk; if (seen.includes('event: ready')) resolve(); });
      socket.write(`GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    });
  }
  return sockets;
}

(await open(100)).forEach((s) => s.destroy()); // warm-up: code paths compiled, pools grown
await sleep(500);
const before = usage();
const sockets = await open(count);
await sleep(500);
const after = usage();
const kib = (n) => (n / count / 1024).toFixed(1);
console.log(`${count} streams: resident memory +${kib(after.rss - before.rss)} KiB per stream, V8 heap +${kib(after.heapUsed - before.heapUsed)} KiB per stream ` +
  '(the test client\'s sockets live in the same process and are counted too)');
sockets.forEach((s) => s.destroy());
await herald.shutdown();
rmSync(dir, { recursive: true, force: true });
