// CPU profile of Herald while a storm of streams opens: OPENS streams (default 2000), each
// with its own user's token, OPEN_CONCURRENCY (128) opening at a time over raw sockets, each
// counted open at its `event: ready`. Needs nothing but Node (bench:profile needs sseload).
//   npm run bench:profile-open                 # prints the ramp time and the top functions
//   OPENS=5000 TOP=40 npm run bench:profile-open
//   BROADCAST_BACKLOG=50000 npm run bench:profile-open   # with that many broadcasts stored first
// The profile covers the whole process, start-up included (module loading and migrations
// show at the top of the list; the open path is what follows them). It stays in a temporary
// folder, printed at the end.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../src/auth/jwt.js';
import { CLI } from '../test/helpers/herald.js';
import { freePort } from '../test/helpers/cluster.js';
import { waitFor } from '../test/helpers/wait.js';
import { formatSummary } from './profile-summary.js';

const OPENS = Number(process.env.OPENS ?? 2000);
const CONCURRENCY = Number(process.env.OPEN_CONCURRENCY ?? 128);
const TOP = Number(process.env.TOP ?? 30);
const BACKLOG = Number(process.env.BROADCAST_BACKLOG ?? 0);

/** Stores `count` broadcast notifications, 500 per batch publish. */
async function storeBacklog(port: number, token: string, count: number): Promise<void> {
  for (let stored = 0; stored < count; stored += 500) {
    const notifications = Array.from({ length: Math.min(500, count - stored) }, (_, i) => ({ topic: 'broadcast', type: 'backlog', content: `backlog ${stored + i}` }));
    const res = await fetch(`http://127.0.0.1:${port}/v1/notifications/batch`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ notifications }),
    });
    if (res.status !== 200) throw new Error(`the backlog's batch answered ${res.status}: ${await res.text()}`);
  }
}

function openStream(port: number, token: string, sockets: Socket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString();
      if (!head.includes('event: ready')) return;
      socket.off('data', onData);
      socket.resume();
      resolve();
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-open-profile-'));
  const port = await freePort();
  const secret = randomBytes(32).toString('base64url');
  const tokens = await Promise.all(Array.from({ length: OPENS }, (_, i) => mintToken(secret, { sub: `open-${i}`, ttlS: 3600 })));
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, CLI, 'serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      PATH: process.env.PATH ?? '', HERALD_HOST: '127.0.0.1', HERALD_PORT: String(port), HERALD_DATABASE_URL: join(dir, 'herald.db'),
      HERALD_JWT_SECRET: secret, HERALD_LOG_LEVEL: process.env.HERALD_LOG_LEVEL ?? 'info', HERALD_DRAIN_MS: '0',
      HERALD_PUBLISH_RATE_PER_MINUTE: '10000000', HERALD_MAX_CONNECTIONS: '1000000', HERALD_MAX_CONNECTIONS_PER_IP: '1000000', HERALD_MAX_CONNECTIONS_PER_ADDRESS: '0',
    },
  });
  // Its log lines go to a pipe that is read, as under systemd or Docker.
  child.stdout?.resume();
  const sockets: Socket[] = [];
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) || null, 'herald to answer', 60_000);
    if (BACKLOG > 0) await storeBacklog(port, await mintToken(secret, { sub: 'backlog', scope: 'publish', ttlS: 3600 }), BACKLOG);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < OPENS) await openStream(port, tokens[next++] as string, sockets);
    }));
    console.log(`${OPENS} streams open in ${((performance.now() - t0) / 1000).toFixed(2)} s (${CONCURRENCY} at a time, ${BACKLOG} broadcasts stored)`);
  } finally {
    // SIGTERM: Herald exits normally, which is when V8 writes the profile.
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    for (const socket of sockets) socket.destroy();
  }
  const profile = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.includes('.0.'));
  if (!profile) throw new Error(`no profile in ${dir}`);
  console.log(formatSummary(JSON.parse(readFileSync(join(dir, profile), 'utf8')), TOP));
  console.log(`profile: ${join(dir, profile)}`);
}

await main();
