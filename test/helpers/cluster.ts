// A local scale-out cluster for tests and scripts/cluster.mjs: N Herald nodes on one
// PostgreSQL database and one RabbitMQ virtual host, behind nginx configured from
// deploy/nginx/herald.conf. Loopback only, random ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MintOptions } from '../../src/auth/jwt.js';
import { mintToken } from '../../src/auth/jwt.js';
import { startHerald, type HeraldProcess, type StartOptions } from './herald.js';
import { publish, type PublishAnswer } from './publish.js';
import { waitFor } from './wait.js';

export const NGINX_TEMPLATE = fileURLToPath(new URL('../../../deploy/nginx/herald.conf', import.meta.url));

export interface NginxProcess {
  url: string;
  port: number;
  dir: string;
  accessLog(): string;
  errorLog(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** deploy/nginx/herald.conf with these upstream ports, listen port and log path. */
export function renderHeraldConf(template: string, options: { listenPort: number; nodePorts: Array<number | string>; accessLog: string }): string {
  // A number is a port on 127.0.0.1; a string is a whole `host:port`.
  const servers = options.nodePorts.map((port) => `    server ${typeof port === 'number' ? `127.0.0.1:${port}` : port} max_fails=1 fail_timeout=2s;`).join('\n');
  let out = template.replace(/^(\s*server\s+[\d.]+:\d+[^;]*;\s*\n)+/m, `${servers}\n`);
  out = out.replace(/^(\s*)listen\s+\d+/gm, `$1listen 127.0.0.1:${options.listenPort}`);
  // The tests and scripts/cluster.mjs address nginx by its loopback names.
  out = out.replace(/server_name herald\.example\.com;/, 'server_name 127.0.0.1 localhost;');
  out = out.replace(/access_log\s+\S+\s+herald_redacted;/g, `access_log ${options.accessLog} herald_redacted;`);
  if (out === template) throw new Error(`could not render ${NGINX_TEMPLATE}`);
  return out;
}

/** Starts nginx in the foreground with its own prefix directory; `stop()` ends it. */
export async function startNginx(nodePorts: Array<number | string>, listenPort?: number): Promise<NginxProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-nginx-'));
  // Workers may run as another user (nobody) when started by root: let them write here.
  chmodSync(dir, 0o777);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub), { mode: 0o777 });
  const port = listenPort ?? (await freePort());
  const accessLog = join(dir, 'access.log');
  writeFileSync(join(dir, 'herald.conf'), renderHeraldConf(readFileSync(NGINX_TEMPLATE, 'utf8'), { listenPort: port, nodePorts, accessLog }));
  writeFileSync(join(dir, 'nginx.conf'), [
    'daemon off;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 4096; }',
    'http {',
    `  client_body_temp_path ${join(dir, 'client_body')};`,
    `  proxy_temp_path ${join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'scgi')};`,
    `  include ${join(dir, 'herald.conf')};`,
    '}',
    '',
  ].join('\n'));
  const nginx = process.env.HERALD_TEST_NGINX ?? 'nginx';
  const child: ChildProcess = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  let exited = false;
  child.once('exit', () => { exited = true; });
  child.once('error', (err) => { stderr += String(err); exited = true; });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (exited) throw new Error(`nginx exited: ${stderr} (is nginx installed? scripts/install-system-deps.sh)`);
    const res = await fetch(`${url}/healthz`).catch(() => null);
    return res !== null && res.status === 200;
  }, 'nginx to answer /healthz', 10_000, 50);
  return {
    url,
    port,
    dir,
    accessLog: () => readFileSync(accessLog, 'utf8'),
    errorLog: () => readFileSync(join(dir, 'error.log'), 'utf8'),
    async stop() {
      if (!exited) {
        const done = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        // A grace period for a clean exit, then the hard way: a bound, not a wait for an outcome.
        await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 3000))]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ClusterOptions {
  nodes: number;
  databaseUrl: string;
  amqpUrl: string;
  env?: Record<string, string>;
  /** nginx's port; default a free one. */
  nginxPort?: number;
  /** When set, node i (from 1) also writes its output to <logDir>/node-<i>.log. */
  logDir?: string;
  /** Options of node i (from 0) beside the shared env: its own variables, a spawn prefix, a host. */
  node?: (index: number) => StartOptions;
  /** What nginx proxies to for these nodes (a port on 127.0.0.1 or `host:port`); default their ports. */
  upstreams?: (nodes: HeraldProcess[]) => Array<number | string> | Promise<Array<number | string>>;
}

export interface Cluster {
  nodes: HeraldProcess[];
  nginx: NginxProcess;
  secret: string;
  token(sub: string, options?: Partial<MintOptions>): Promise<string>;
  /** POST /v1/notifications at a base URL (nginx or a node); see publish.ts. */
  publish(baseUrl: string, body: unknown, token?: string): Promise<PublishAnswer>;
  /** Waits until every node answers /readyz with 200. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const secret = randomBytes(32).toString('base64url');
  const env: Record<string, string> = {
    HERALD_DATABASE_URL: options.databaseUrl,
    HERALD_AMQP_URL: options.amqpUrl,
    HERALD_JWT_SECRET: secret,
    HERALD_TICKET_SECRET: randomBytes(32).toString('base64url'),
    HERALD_TRUST_PROXY: '127.0.0.1',
    // info: the test helper waits for the "listening" line.
    HERALD_LOG_LEVEL: 'info',
    ...options.env,
  };
  const nodes: HeraldProcess[] = [];
  let nginx: NginxProcess | null = null;
  const stop = async () => {
    await nginx?.stop();
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    // The first node migrates the database; the others then start side by side.
    const logFile = (i: number) => (options.logDir ? join(options.logDir, `node-${i}.log`) : undefined);
    const startNode = (i: number) => {
      const own = options.node?.(i) ?? {};
      return startHerald({ ...own, env: { ...env, ...own.env }, logFile: own.logFile ?? logFile(i + 1) });
    };
    nodes.push(await startNode(0));
    nodes.push(...await Promise.all(Array.from({ length: options.nodes - 1 }, (_, i) => startNode(i + 1))));
    nginx = await startNginx((await options.upstreams?.(nodes)) ?? nodes.map((node) => node.port), options.nginxPort);
  } catch (err) {
    await stop();
    throw err;
  }
  const token = (sub: string, opts: Partial<MintOptions> = {}) => mintToken(secret, { scope: 'subscribe publish', ...opts, sub });
  const cluster: Cluster = {
    nodes,
    nginx,
    secret,
    token,
    publish: async (baseUrl, body, publishToken) => publish(baseUrl, publishToken ?? (await token('publisher', { scope: 'publish' })), body),
    async ready(timeoutMs = 30_000) {
      let last = '';
      await waitFor(async () => {
        const answers = await Promise.all(nodes.map((node) => fetch(`${node.url}/readyz`).then(async (r) => `${r.status} ${await r.text()}`, (err: Error) => `0 ${err.message}`)));
        last = answers.join(' | ');
        return answers.every((answer) => answer.startsWith('200'));
      }, 'every node to be ready', timeoutMs, 100).catch((err: Error) => {
        const tails = nodes.map((node, i) => `node ${i}:\n${node.logs.slice(-8).join('\n')}`).join('\n');
        throw new Error(`${err.message}; last answers: ${last}\n${tails}`);
      });
    },
    stop,
  };
  await cluster.ready();
  return cluster;
}
