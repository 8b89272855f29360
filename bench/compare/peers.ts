// The servers the runner compares, each started from a package: nchan (Debian's nginx and
// libnginx-mod-nchan, from a generated nginx.conf), better-sse (the npm package, in
// peers/better-sse-server.ts) and Herald itself (`herald serve`, SQLite in a temporary folder).
// Each runs on a free port in a process group of its own; stopping it signals the whole
// group, and whatever is still running when the runner exits is killed with it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../../src/auth/jwt.js';
import { groupPids } from './proc-stats.js';

const HOST = '127.0.0.1';
const HERALD_CLI = fileURLToPath(new URL('../../src/cli/herald.js', import.meta.url));
const BETTER_SSE_SERVER = fileURLToPath(new URL('./peers/better-sse-server.js', import.meta.url));
const NGINX = '/usr/sbin/nginx';
const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
const NCHAN_PACKAGES = ['nginx', 'libnginx-mod-nchan'];

export interface RunningPeer {
  host: string;
  port: number;
  /** The process group: the server and every process it started. */
  group: number;
  log: string;
  stop(): Promise<void>;
}

export interface Peer {
  name: string;
  /** Checks (and for nchan, installs) what the peer needs; `users` is how many stream owners a scenario may use. */
  prepare(users: number): Promise<void>;
  start(dir: string): Promise<RunningPeer>;
  /** The request head that opens user `u`'s stream; `broadcast`: the stream is for the broadcast channel. */
  subscribe(u: number, broadcast: boolean): string;
  /** A publish request to user `u`, or to everyone when `u` is null, whose payload carries `mark`. */
  publish(u: number | null, mark: string): string;
  version(): string;
}

const post = (path: string, headers: string, body: string) =>
  `POST ${path} HTTP/1.1\r\nHost: ${HOST}\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const get = (path: string, headers = '') => `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nAccept: text/event-stream\r\n${headers}\r\n`;

// ---------- processes ----------

const live = new Map<number, ChildProcess>();

function killGroup(group: number, signal: NodeJS.Signals): boolean {
  try { process.kill(-group, signal); return true; } catch { return false; }
}

// Whatever way the runner ends, no server outlives it.
process.on('exit', () => { for (const group of live.keys()) killGroup(group, 'SIGKILL'); });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => { for (const group of live.keys()) killGroup(group, 'SIGKILL'); process.exit(130); });
}

/** A free TCP port on loopback (asked of the kernel, then released for the server to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Starts `command` in its own process group, logging to `log`, and waits (≤ 30 s) until it accepts connections on `port`. */
async function startGroup(command: string, args: string[], env: Record<string, string>, port: number, log: string): Promise<RunningPeer> {
  const fd = openSync(log, 'a');
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', ...env }, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const group = child.pid as number;
  live.set(group, child);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  const stop = async () => {
    if (!live.has(group)) return;
    // SIGTERM to the group, up to 10 s to go, then SIGKILL; done when no process is left in it.
    killGroup(group, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (groupPids(group).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    killGroup(group, 'SIGKILL');
    await Promise.race([exit, new Promise((r) => setTimeout(r, 5_000))]);
    for (let i = 0; i < 100 && groupPids(group).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    live.delete(group);
  };
  const deadline = Date.now() + 30_000;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`${command} ${exited ? 'exited' : 'did not listen on ' + port + ' within 30 s'}; its log (${log}):\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host: HOST, port, group, log, stop };
}

// ---------- nchan ----------

function nchanInstalled(): boolean {
  return existsSync(NGINX) && existsSync(NCHAN_MODULE);
}

/** Installs nginx and its nchan module from Debian, as root only; the packages' services are not started. */
function installNchan(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`nchan needs Debian's ${NCHAN_PACKAGES.join(' and ')}, and only root may install them: `
      + `run \`apt-get install ${NCHAN_PACKAGES.join(' ')}\` as root, or leave nchan out (PEERS=better-sse,herald)`);
  }
  console.log(`installing ${NCHAN_PACKAGES.join(' ')} (apt-get)`);
  // Debian's policy-rc.d answer 101 ("action forbidden") keeps the packages from starting nginx's service.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# written by herald bench/compare while it installs nchan; removed after\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => spawnSync('timeout', ['600', 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...NCHAN_PACKAGES], { env, stdio: 'inherit' }).status;
    if (install() !== 0) {
      spawnSync('timeout', ['600', 'apt-get', 'update', '-qq'], { env, stdio: 'inherit' });
      if (install() !== 0) throw new Error(`apt-get install ${NCHAN_PACKAGES.join(' ')} failed`);
    }
  } finally {
    if (ownPolicy) spawnSync('rm', ['-f', policy]);
  }
}

function nginxConf(dir: string, port: number, workers: number): string {
  return `# Generated by bench/compare/peers.ts for one run.
load_module ${NCHAN_MODULE};
worker_processes ${workers};
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
daemon off;
master_process on;
events { worker_connections 19500; use epoll; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 600s;
  nchan_shared_memory_size 256M;
  server {
    listen ${HOST}:${port} backlog=4096 reuseport;
    # Subscriber: GET /sub/<channel> as an EventSource stream, from the newest message on.
    location ~ ^/sub/([A-Za-z0-9_-]+)$ {
      nchan_subscriber eventsource;
      nchan_channel_id $1;
      nchan_subscriber_first_message newest;
    }
    # Publisher: POST /pub/<channel>, the body is the message; the last 10 are kept for 60 s.
    location ~ ^/pub/([A-Za-z0-9_-]+)$ {
      nchan_publisher;
      nchan_channel_id $1;
      nchan_store_messages on;
      nchan_message_buffer_length 10;
      nchan_message_timeout 60s;
    }
  }
}
`;
}

export function nchanPeer(workers: number): Peer {
  return {
    name: workers === 1 ? 'nchan' : `nchan-w${workers}`,
    async prepare() { if (!nchanInstalled()) installNchan(); },
    async start(dir) {
      const port = await freePort();
      const run = join(dir, 'nginx');
      mkdirSync(run, { recursive: true });
      writeFileSync(join(run, 'nginx.conf'), nginxConf(run, port, workers));
      return startGroup(NGINX, ['-p', run, '-c', join(run, 'nginx.conf')], {}, port, join(dir, 'nchan.log'));
    },
    subscribe: (u, broadcast) => get(`/sub/${broadcast ? 'all' : `u${u}`}`),
    publish: (u, mark) => post(`/pub/${u === null ? 'all' : `u${u}`}`, 'Content-Type: text/plain\r\n', mark),
    version: () => spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libnginx-mod-nchan'], { encoding: 'utf8' }).stdout.trim(),
  };
}

// ---------- better-sse ----------

export function betterSsePeer(): Peer {
  return {
    name: 'better-sse',
    async prepare() {
      if (!existsSync(BETTER_SSE_SERVER)) throw new Error(`${BETTER_SSE_SERVER} is missing: run \`npm run build\``);
    },
    async start(dir) {
      const port = await freePort();
      return startGroup(process.execPath, [BETTER_SSE_SERVER], { HOST, PORT: String(port) }, port, join(dir, 'better-sse.log'));
    },
    // Every stream belongs to a user: it is on the broadcast channel and on its user's.
    subscribe: (u) => get(`/sse?uid=u${u}`),
    publish: (u, mark) => post(u === null ? '/publish' : `/publish?uid=u${u}`, 'Content-Type: application/json\r\n', JSON.stringify(mark)),
    version: () => (JSON.parse(readFileSync(fileURLToPath(new URL('../../../node_modules/better-sse/package.json', import.meta.url)), 'utf8')) as { version: string }).version,
  };
}

// ---------- Herald ----------

/**
 * Herald as shipped (SQLite, synchronous=FULL, a JWT checked on every request), with only the
 * limits lifted that would refuse the load generator itself (connections from one address,
 * publishes per minute). `extraEnv`: more variables, e.g. HERALD_SQLITE_SYNCHRONOUS=normal.
 */
export function heraldPeer(extraEnv: Record<string, string> = {}, nodeArgs: readonly string[] = []): Peer {
  const secret = randomBytes(32).toString('base64url');
  const tokens: string[] = [];
  let publisher = '';
  return {
    name: 'herald',
    async prepare(users) {
      if (!existsSync(HERALD_CLI)) throw new Error(`${HERALD_CLI} is missing: run \`npm run build\``);
      publisher = await mintToken(secret, { sub: 'bench-publisher', scope: 'publish', ttlS: 6 * 3600 });
      for (let u = tokens.length; u < users; u++) tokens.push(await mintToken(secret, { sub: `u${u}`, scope: 'subscribe', ttlS: 6 * 3600 }));
    },
    async start(dir) {
      const port = await freePort();
      const data = join(dir, 'herald');
      mkdirSync(data, { recursive: true });
      return startGroup(process.execPath, [...nodeArgs, HERALD_CLI, 'serve'], {
        HERALD_HOST: HOST,
        HERALD_PORT: String(port),
        HERALD_DATABASE_URL: join(data, 'herald.db'),
        HERALD_JWT_SECRET: secret,
        HERALD_LOG_LEVEL: 'warn',
        HERALD_DRAIN_MS: '0',
        HERALD_MAX_CONNECTIONS: '100000',
        HERALD_MAX_CONNECTIONS_PER_IP: '100000',
        HERALD_MAX_CONNECTIONS_PER_ADDRESS: '100000',
        HERALD_PUBLISH_RATE_PER_MINUTE: '10000000',
        HERALD_USER_RATE_PER_MINUTE: '10000000',
        ...extraEnv,
      }, port, join(dir, 'herald.log'));
    },
    subscribe: (u) => get('/v1/stream', `Authorization: Bearer ${tokens[u] ?? ''}\r\n`),
    publish: (u, mark) => post('/v1/notifications', `Authorization: Bearer ${publisher}\r\nContent-Type: application/json\r\n`,
      JSON.stringify(u === null ? { topic: 'broadcast', type: 'bench', content: mark } : { recipients: [`u${u}`], type: 'bench', content: mark })),
    version: () => {
      const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
      return rev ? `git ${rev}` : 'unknown';
    },
  };
}

/** The peers PEERS names, in its order. */
export function peersNamed(names: string[], options: { nchanWorkers: number; heraldEnv: Record<string, string>; heraldNodeArgs?: readonly string[] }): Peer[] {
  return names.map((name) => {
    if (name === 'nchan') return nchanPeer(options.nchanWorkers);
    if (name === 'better-sse') return betterSsePeer();
    if (name === 'herald') return heraldPeer(options.heraldEnv, options.heraldNodeArgs);
    throw new Error(`unknown peer "${name}": PEERS takes nchan, better-sse and herald`);
  });
}
