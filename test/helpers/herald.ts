// Starts a real Herald process (dist/src/cli/herald.js serve) for tests, on a random port
// with its own temporary SQLite database, and cleans up after it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken, type MintOptions } from '../../src/auth/jwt.js';
import { publish, type PublishAnswer } from './publish.js';
import { waitFor } from './wait.js';

export const CLI = fileURLToPath(new URL('../../src/cli/herald.js', import.meta.url));

export interface HeraldProcess {
  url: string;
  port: number;
  env: Record<string, string>;
  secret: string;
  /** Every line the process wrote to stdout/stderr (JSON logs and the banner). */
  logs: string[];
  /** A token for `sub`; scope defaults to "subscribe publish". */
  token(sub: string, options?: Partial<MintOptions>): Promise<string>;
  /** POST /v1/notifications with a publish token (of user "publisher" unless given); see publish.ts. */
  publish(body: unknown, token?: string): Promise<PublishAnswer>;
  /** Open streams, read from the herald_stream_connections metric. */
  connections(): Promise<number>;
  /** A metric's value from /metrics; `series` is the name with its labels, e.g. `x_total{code="y"}`. */
  metric(series: string): Promise<number>;
  /** Sends a signal (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Sends a signal and returns at once (SIGSTOP freezes the process, SIGCONT thaws it). */
  signal(signal: NodeJS.Signals): void;
  /** Starts the process again on the same port and database. */
  restart(): Promise<void>;
  /** Stops the process (SIGKILL) and removes its files. */
  stop(): Promise<void>;
  /**
   * With HERALD_WORKERS > 1: the process id of the worker in `slot` (1..N) as its latest
   * `listening` line says (a restarted worker's replaces the one before).
   */
  workerPid(slot: number): number | undefined;
}

export interface StartOptions {
  /** Variables for the process; `undefined` removes a default (e.g. HERALD_JWT_SECRET for development mode). */
  env?: Record<string, string | undefined>;
  /** Also append every line the process writes to this file (scripts/cluster.mjs prints where). */
  logFile?: string;
  /**
   * A command the process is started under, e.g. `['ip', 'netns', 'exec', 'herald-…-n1']`
   * (test/helpers/netns.ts); it must exec the process, so signals reach Herald itself.
   */
  spawnPrefix?: string[];
  /** The address Herald listens on and the tests reach it at. Default 127.0.0.1. */
  host?: string;
}

export async function startHerald(options: StartOptions = {}): Promise<HeraldProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-test-'));
  // Nodes of one cluster share a secret: pass HERALD_JWT_SECRET in env.
  const secret = options.env?.HERALD_JWT_SECRET ?? randomBytes(32).toString('base64url');
  const merged: Record<string, string | undefined> = {
    HERALD_HOST: options.host ?? '127.0.0.1',
    HERALD_PORT: '0',
    HERALD_DATABASE_URL: join(dir, 'herald.db'),
    HERALD_JWT_SECRET: secret,
    HERALD_LOG_LEVEL: 'info',
    HERALD_DRAIN_MS: '0',
    ...options.env,
  };
  const env = Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const logs: string[] = [];
  const clustered = env.HERALD_WORKERS !== undefined && env.HERALD_WORKERS !== '1';
  let child: ChildProcess | null = null;
  let port = 0;

  async function launch(): Promise<void> {
    const [command, ...prefixArgs] = [...(options.spawnPrefix ?? []), process.execPath];
    const proc = spawn(command as string, [...prefixArgs, CLI, 'serve'], {
      env: { PATH: process.env.PATH ?? '', ...env, ...(port ? { HERALD_PORT: String(port) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const logFile = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null;
    proc.once('exit', () => logFile?.end());
    let listening: number | null = null;
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        logs.push(line);
        logFile?.write(`${line}\n`);
        if (logs.length > 20_000) logs.splice(0, 10_000);
        // With workers, the primary's line (it names them) says the whole node listens.
        if (line.includes('"message":"listening"') && (!clustered || line.includes('"workers":'))) listening = (JSON.parse(line) as { port: number }).port;
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    let exited = false;
    proc.once('exit', () => { exited = true; });
    try {
      await waitFor(() => {
        if (exited) throw new Error(`herald exited during start:\n${logs.slice(-20).join('\n')}`);
        return listening;
      }, 'herald to listen', 60_000);
    } catch (err) {
      // A process that never listened must not outlive the test.
      proc.kill('SIGKILL');
      throw err;
    }
    port = listening as unknown as number;
  }

  await launch();
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;

  const herald: HeraldProcess = {
    url,
    port,
    env,
    secret,
    logs,
    token: (sub, opts = {}) => mintToken(secret, { scope: 'subscribe publish', ...opts, sub, audience: env.HERALD_JWT_AUDIENCE ?? opts.audience, issuer: env.HERALD_JWT_ISSUER ?? opts.issuer }),
    publish: async (body, token) => publish(url, token ?? (await herald.token('publisher', { scope: 'publish' })), body),
    connections: () => herald.metric('herald_stream_connections'),
    async metric(series) {
      // A node listening beyond loopback answers /metrics only with its HERALD_METRICS_TOKEN.
      const headers: Record<string, string> = env.HERALD_METRICS_TOKEN ? { authorization: `Bearer ${env.HERALD_METRICS_TOKEN}` } : {};
      const text = await (await fetch(`${url}/metrics`, { headers })).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line ? Number(line.slice(series.length + 1)) : 0;
    },
    async kill(signal = 'SIGKILL') {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null;
      const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      proc.kill(signal);
      return exit;
    },
    signal(signal) {
      child?.kill(signal);
    },
    async restart() {
      await herald.kill();
      await launch();
    },
    async stop() {
      await herald.kill();
      rmSync(dir, { recursive: true, force: true });
    },
    workerPid(slot) {
      for (let i = logs.length - 1; i >= 0; i--) {
        const line = logs[i] as string;
        if (!line.includes('"message":"listening"') || !line.includes(`"worker":${slot},`)) continue;
        return (JSON.parse(line) as { 'process.pid': number })['process.pid'];
      }
      return undefined;
    },
  };
  return herald;
}
