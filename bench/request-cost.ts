// Server CPU per request, route by route: what one request costs Herald, beside a bare
// node:http server and a bare Fastify route answering the same POST. CPU time (user + system,
// from /proc/<pid>/stat) rather than latency, because CPU per request is what a shared
// machine's noise disturbs least. Linux only.
//   npm run bench:request-cost      (writes bench/results/request-cost.md)
// BENCH_REQUESTS (default 4000) requests per case, 8 at a time over keep-alive; median of
// BENCH_RUNS (default 3) runs per case.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../src/auth/jwt.js';
import { CLI } from '../test/helpers/herald.js';
import { waitFor } from '../test/helpers/wait.js';
import { median, RESULTS_DIR } from './report.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 4000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONCURRENCY = 8;
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

function cpuUs(pid: number): number {
  // Fields after the command name (which may contain spaces) start at field 3; utime and stime are 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function send(url: string, method: string, headers: Record<string, string>, body: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent, headers: body === null ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

interface Case { name: string; url: string; method: string; headers: Record<string, string>; body: (i: number) => string | null; status: number }

/** Server CPU µs per request for one case: the median of RUNS runs of REQUESTS requests. */
async function measure(pid: number, c: Case): Promise<number> {
  const perRun: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const before = cpuUs(pid);
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const status = await send(c.url, c.method, c.headers, c.body(i));
        if (status !== c.status) throw new Error(`${c.name}: answered ${status}, expected ${c.status}`);
      }
    }));
    perRun.push((cpuUs(pid) - before) / REQUESTS);
  }
  return median(perRun);
}

/** A reference server in a child process, on a random port; resolves with its port. */
function reference(code: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve({ port: Number(chunk.toString().trim()), child }));
    child.once('exit', (status) => reject(new Error(`reference server exited (${status})`)));
  });
}

const BARE_HTTP = `
import { createServer } from 'node:http';
const s = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => { JSON.parse(Buffer.concat(chunks).toString() || 'null'); res.writeHead(202, { 'content-type': 'application/json' }); res.end('{"ok":true}'); });
}).listen(0, '127.0.0.1', () => console.log(s.address().port));`;

const BARE_FASTIFY = `
import Fastify from 'fastify';
const app = Fastify({ logger: false });
app.post('/p', async (req, reply) => reply.status(202).send({ ok: true }));
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(app.server.address().port);`;

const json = { 'content-type': 'application/json' };
const body = (i: number) => JSON.stringify({ recipients: [`cost-${i % 50}`], type: 'bench', content: `request ${i}` });

interface Server { url: string; secret: string; dir: string; child: ChildProcess }

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

/** Herald on a free port at a given log level (the test helper needs info to learn its port). */
async function startServer(level: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cost-'));
  const port = await freePort();
  const secret = randomBytes(32).toString('base64url');
  const child = spawn(process.execPath, [CLI, 'serve'], {
    // Its log lines go to a pipe that another process reads, as under systemd or Docker
    // (writing to /dev/null would hide what writing them costs).
    stdio: ['ignore', 'pipe', 'ignore'],
    env: {
      PATH: process.env.PATH ?? '', HERALD_HOST: '127.0.0.1', HERALD_PORT: String(port), HERALD_DATABASE_URL: join(dir, 'herald.db'),
      HERALD_JWT_SECRET: secret, HERALD_LOG_LEVEL: level, HERALD_SQLITE_SYNCHRONOUS: 'normal', HERALD_PUBLISH_RATE_PER_MINUTE: '10000000',
    },
  });
  child.stdout?.resume();
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) || null, 'herald to answer', 60_000);
  return { url, secret, dir, child };
}

async function heraldCases(herald: Server): Promise<Case[]> {
  const auth = { authorization: `Bearer ${await mintToken(herald.secret, { sub: 'bench-publisher', scope: 'publish' })}` };
  const url = `${herald.url}/v1/notifications`;
  return [
    { name: 'GET /healthz', url: `${herald.url}/healthz`, method: 'GET', headers: {}, body: () => null, status: 200 },
    { name: 'POST /v1/notifications, bad token (401)', url, method: 'POST', headers: { ...json, authorization: 'Bearer x.y.z' }, body, status: 401 },
    { name: 'POST /v1/notifications, invalid body (400)', url, method: 'POST', headers: { ...json, ...auth }, body: () => '{"recipients":[]}', status: 400 },
    { name: 'POST /v1/notifications, stored and fanned out (202)', url, method: 'POST', headers: { ...json, ...auth }, body, status: 202 },
  ];
}

async function main(): Promise<void> {
  const rows: Array<[string, number]> = [];
  const children: ChildProcess[] = [];
  try {
    for (const [name, code] of [['bare node:http POST, JSON parsed (202)', BARE_HTTP], ['bare Fastify POST route (202)', BARE_FASTIFY]] as const) {
      const ref = await reference(code);
      children.push(ref.child);
      rows.push([name, await measure(ref.child.pid as number, { name, url: `http://127.0.0.1:${ref.port}/p`, method: 'POST', headers: json, body, status: 202 })]);
      ref.child.kill();
    }
    // synchronous=normal: the write path's fsync is not what this measures.
    for (const level of ['info', 'warn']) {
      const herald = await startServer(level);
      children.push(herald.child);
      try {
        for (const c of await heraldCases(herald)) rows.push([`Herald (log level ${level}): ${c.name}`, await measure(herald.child.pid as number, c)]);
      } finally {
        herald.child.kill();
        rmSync(herald.dir, { recursive: true, force: true });
      }
    }
  } finally {
    for (const c of children) c.kill();
    agent.destroy();
  }
  const table = [
    `Server CPU per request, µs: median of ${RUNS} runs of ${REQUESTS} requests, ${CONCURRENCY} concurrent, measured ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| case | CPU µs / request |',
    '|---|---|',
    ...rows.map(([name, us]) => `| ${name} | ${us.toFixed(0)} |`),
  ].join('\n');
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}/request-cost.md`, `${table}\n`);
  console.log(table);
}

await main();
