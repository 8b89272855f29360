import { closeSync, openSync } from 'node:fs';
import { makeDataDir } from '../data-dir.js';
import { dirname, resolve } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import { KyselyNotificationStore } from './kysely-store.js';
import { openSqliteHandle } from './sqlite-handle.js';
import { sqliteKysely } from './sqlite-kysely.js';
import { SqliteThreadWriter, type RemoteWriter, type SpawnWriter } from './sqlite-thread-writer.js';
import { kyselyPgStatements } from './pg-statements.js';
import type { PushQueueing } from './publish-plan.js';
import { PgPublishWriter } from './pg-writer.js';
import { SqliteStatements } from './sqlite-statements.js';
import { SqlitePublishWriter } from './sqlite-writer.js';
import type { Database } from './schema.js';
import { KyselyWrites, remoteWrites } from './writes.js';
import type { NotificationStore } from './store.js';
import type { Clock } from '../domain/clock.js';

/** `postgres://` selects PostgreSQL; anything else is a SQLite file (`sqlite:` prefix optional). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function sqlitePath(url: string): string {
  return url.replace(/^sqlite:(\/\/)?/, '');
}

export interface StoreOptions {
  /** SQLite only; see Config.sqliteSynchronous. */
  sqliteSynchronous?: 'full' | 'normal';
  /** What expiry and snooze are judged against (default: the system clock). */
  clock?: Clock;
  /** Scheduled rows one publisher may have waiting at once (default: no bound). */
  maxScheduledPerPublisher?: number;
  /** SQLite file only: starts the publish writer's thread (tests reach the thread through it). */
  spawnWriter?: SpawnWriter;
  /** How new notifications feed the push queue (src/push/); absent or null: push is off, nothing is queued. */
  push?: PushQueueing | null;
  /**
   * SQLite file only: the writer to use instead of starting a thread here. A worker of a
   * node with HERALD_WORKERS > 1 passes its relay to the primary's one writer thread
   * (src/cluster/write-relay.ts); this process then only reads.
   */
  writer?: RemoteWriter;
}

/**
 * Nothing waits on PostgreSQL forever: a paused or black-holed server would otherwise hang
 * a publish that holds topic row locks, and the queue consumer behind it. The server ends
 * statements (lock waits included) and abandoned transactions; the client gives up on an
 * answer that never comes; keepalive finds dead peers. Each can be overridden in the
 * database URL (`?statement_timeout=…&query_timeout=…`), which wins over these.
 */
const PG_TIMEOUTS = {
  connectionTimeoutMillis: 5000,
  statement_timeout: 10_000,
  query_timeout: 15_000,
  idle_in_transaction_session_timeout: 30_000,
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000,
};

/** The code Herald gives a PostgreSQL client error that has none: the connection failed. */
export const CONNECTION_LOST = 'HERALD_DB_CONNECTION';

/**
 * The pg client's own errors ("Connection terminated unexpectedly", "Query read timeout",
 * a pool's connect timeout) carry no code, where every error the server sends carries its
 * SQLSTATE: so a codeless one is the connection's, tagged here, where that is known, for
 * isUnreachable (never decided by a message's wording).
 */
export function tagConnectionErrors<T>(work: Promise<T>): Promise<T> {
  return work.catch((err: unknown) => {
    if (err instanceof Error && (err as { code?: unknown }).code === undefined) Object.assign(err, { code: CONNECTION_LOST });
    throw err;
  });
}

/**
 * Every query's codeless failure is tagged (tagConnectionErrors). After a client-side query
 * timeout the connection still waits for that answer, and every later query on it would
 * queue behind: destroy it, so the pool opens a fresh one.
 */
function watchQueries(client: import('pg').PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (!(result instanceof Promise)) return result;
    return tagConnectionErrors(result).catch((err: unknown) => {
      if (err instanceof Error && err.message === 'Query read timeout') {
        (client as unknown as { connection?: { stream?: { destroy(err: Error): void } } }).connection?.stream?.destroy(err);
      }
      throw err;
    });
  };
}

export async function openStore(databaseUrl: string, options: StoreOptions = {}): Promise<NotificationStore> {
  if (isPostgresUrl(databaseUrl)) {
    const pg = (await import('pg')).default;
    // int8 (sequence numbers, counts) as JS numbers: they stay far below 2^53.
    pg.types.setTypeParser(20, (value: string) => Number.parseInt(value, 10));
    const pool = new pg.Pool({ ...PG_TIMEOUTS, connectionString: databaseUrl, max: 10 });
    // A client losing its connection (database restart) must not crash the process: idle
    // ones report through the pool, checked-out ones (between two statements of a
    // transaction) emit on themselves. The statement in flight still fails and is retried.
    pool.on('error', () => {});
    pool.on('connect', (client) => {
      client.on('error', () => {});
      watchQueries(client);
    });
    // A connect that times out or fails before the server answers has no code either.
    const connect = pool.connect.bind(pool) as () => Promise<import('pg').PoolClient>;
    (pool as unknown as { connect: (...args: unknown[]) => unknown }).connect = (...args: unknown[]) =>
      (args.length === 0 ? tagConnectionErrors(connect()) : (connect as (...a: unknown[]) => unknown)(...args));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const push = options.push ?? null;
    return new KyselyNotificationStore(db, 'postgres', new PgPublishWriter(pool, options.clock, push), { ...options, writes: new KyselyWrites(db, 'postgres', kyselyPgStatements, push) });
  }
  const path = sqlitePath(databaseUrl);
  if (path !== ':memory:') {
    // Notifications are private: a new folder is 0700 and a new database file 0600 (SQLite
    // gives its -wal and -shm files the database file's mode).
    makeDataDir(dirname(resolve(path)));
    try {
      closeSync(openSync(path, 'wx', 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const synchronous = options.sqliteSynchronous ?? 'full';
  const sqlite = await openSqliteHandle(path, synchronous);
  const db = sqliteKysely(sqlite);
  if (path === ':memory:' || path === '') {
    // An in-memory database exists only on this connection. Its batch runs synchronously
    // while it holds Kysely's one connection: no other transaction can be open on it meanwhile.
    const statements = new SqliteStatements(sqlite);
    const writer = new SqlitePublishWriter(sqlite, statements, (fn) => db.connection().execute(async () => fn()), options.push ?? null);
    return new KyselyNotificationStore(db, 'sqlite', writer, { ...options, writes: new KyselyWrites(db, 'sqlite', () => statements, options.push ?? null) });
  }
  // A file gets a writer thread with its own connection: every write (publishes and the
  // others) waits for SQLite's lock and commits (an fsync each) there, never stalling the
  // event loop that delivers to streams. This connection reads beside it (WAL).
  const writer = options.writer ?? new SqliteThreadWriter(path, synchronous, options.spawnWriter, options.push ?? null);
  const writes = remoteWrites((method, args) => writer.call(method, args));
  return new KyselyNotificationStore(db, 'sqlite', writer, { ...options, writes, writerHeap: () => writer.heap() });
}
