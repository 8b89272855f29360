// PostgreSQL and RabbitMQ for tests, as started by scripts/services/up.sh (which writes
// .tmp/services.env). A test that needs a service it cannot find fails, never skips.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import pg from 'pg';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** The variable's value, or an error telling how to start the services. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: scripts/run-tests.mjs starts the test services only for the files its NEEDS ` +
      'table lists, so add this file there (or start them yourself: scripts/services/up.sh, then `. .tmp/services.env`).');
  }
  return value;
}

/** A fresh, empty PostgreSQL database; dropped by `drop()`. */
export async function createPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = requireEnv('HERALD_TEST_PG_URL');
  const name = `herald_${randomBytes(6).toString('hex')}`;
  await withPg(admin, (client) => client.query(`create database ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await withPg(admin, (client) => client.query(`drop database if exists ${name} with (force)`)).catch(() => {});
    },
  };
}

/** Runs `fn` with a client connected to `url`, then ends the client. */
export async function withPg<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs the test RabbitMQ node's rabbitmqctl. */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run(requireEnv('HERALD_TEST_RABBITMQCTL'), ['-q', ...args], { timeout: 60_000 });
  return stdout;
}

/** A fresh RabbitMQ virtual host (own exchanges and queues); deleted by `drop()`. */
export async function createAmqpVhost(): Promise<{ url: string; vhost: string; drop(): Promise<void> }> {
  const base = new URL(requireEnv('HERALD_TEST_AMQP_URL'));
  const vhost = `herald-${randomBytes(6).toString('hex')}`;
  await rabbitmqctl('add_vhost', vhost);
  await rabbitmqctl('set_permissions', '-p', vhost, decodeURIComponent(base.username || 'guest'), '.*', '.*', '.*');
  base.pathname = `/${vhost}`;
  return { url: base.toString(), vhost, drop: async () => { await rabbitmqctl('delete_vhost', vhost).catch(() => ''); } };
}

/** Messages waiting in a queue of a vhost. */
export async function queueDepth(vhost: string, queue: string): Promise<number> {
  const out = await rabbitmqctl('list_queues', '-p', vhost, '--no-table-headers', 'name', 'messages');
  for (const line of out.split('\n')) {
    const [name, count] = line.trim().split(/\s+/);
    if (name === queue) return Number(count);
  }
  return 0;
}

type Service = 'postgres' | 'rabbitmq';

/** Stops, starts or restarts a shared test service (scripts/services/ctl.sh). */
export async function serviceCtl(service: Service, action: 'stop' | 'start' | 'restart' | 'kill' | 'pause' | 'resume'): Promise<void> {
  await run(requireEnv('HERALD_TEST_SERVICES_CTL'), [service, action], { timeout: 120_000 });
}

const LOCK_DIR = join(REPO, '.tmp', 'services-lock');

/**
 * Takes the lock on the shared services for the rest of the test file, so a fault test
 * that restarts PostgreSQL or RabbitMQ never runs beside another test using them.
 * A lock left by a dead process is taken over.
 */
export async function lockServices(t: TestContext, timeoutMs = 600_000): Promise<void> {
  mkdirSync(dirname(LOCK_DIR), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = 0;
      try { holder = Number(readFileSync(join(LOCK_DIR, 'pid'), 'utf8')); } catch { /* being written */ }
      if (holder && !alive(holder)) rmSync(LOCK_DIR, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`the test services stayed locked by pid ${holder} for ${timeoutMs} ms`);
      // Polls the lock another process holds (a directory has no event to wait on).
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  t.after(() => rmSync(LOCK_DIR, { recursive: true, force: true }));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ScaleOutBackends {
  db: { url: string };
  vhost: { url: string; vhost: string };
  /** Registers what runs on them (nodes, a cluster): stopped, newest first, before they are dropped. */
  stopFirst(stop: () => Promise<void>): void;
}

/** A fresh PostgreSQL database and RabbitMQ vhost for one scale-out test, dropped when it ends. */
export async function scaleOutBackends(t: TestContext): Promise<ScaleOutBackends> {
  await lockServices(t);
  const db = await createPgDatabase();
  const vhost = await createAmqpVhost();
  const stops: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop();
    await vhost.drop();
    await db.drop();
  });
  return {
    db,
    vhost,
    stopFirst(stop) {
      stops.push(stop);
    },
  };
}
