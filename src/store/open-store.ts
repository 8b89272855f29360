import { closeSync, openSync } from 'node:fs';
import { makeDataDir } from '../data-dir.js';
import { dirname, resolve } from 'node:path';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig, type TransactionSettings } from 'kysely';
import { KyselyNotificationStore } from './kysely-store.js';
import type { SqliteDatabase, SqliteStatement } from './node-sqlite.js';
import { openSqliteHandle } from './sqlite-handle.js';
import { SqliteThreadWriter, type SpawnWriter } from './sqlite-thread-writer.js';
import { PgPublishWriter } from './pg-writer.js';
import { SqlitePublishWriter } from './sqlite-writer.js';
import type { Database } from './schema.js';
import type { NotificationStore } from './store.js';
import type { Clock } from '../sse/clock.js';

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

/**
 * After a client-side query timeout the connection still waits for that answer, and every
 * later query on it would queue behind: destroy it, so the pool opens a fresh one.
 */
function dropConnectionOnQueryTimeout(client: import('pg').PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (result instanceof Promise) {
      result.catch((err: unknown) => {
        if (err instanceof Error && err.message === 'Query read timeout') {
          (client as unknown as { connection?: { stream?: { destroy(err: Error): void } } }).connection?.stream?.destroy(err);
        }
      });
    }
    return result;
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
      dropConnectionOnQueryTimeout(client);
    });
    return new KyselyNotificationStore(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), 'postgres', new PgPublishWriter(pool), options.clock, options.maxScheduledPerPublisher);
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
  // A file gets its publish writer on a thread of its own, so commits (an fsync each) never
  // stall the event loop that delivers to streams. This connection then reads beside it
  // (WAL) and its write transactions begin immediate (see ImmediateWritesDialect).
  const threaded = path !== ':memory:' && path !== '';
  const db = new Kysely<Database>({ dialect: new ImmediateWritesDialect({ database: reusingStatements(sqlite, STATEMENT_CACHE) }) });
  const writer = threaded
    ? new SqliteThreadWriter(path, synchronous, options.spawnWriter)
    // An in-memory database exists only on this connection. Its batch runs synchronously
    // while it holds Kysely's one connection: no other transaction can be open on it meanwhile.
    : new SqlitePublishWriter(sqlite, (fn) => db.connection().execute(async () => fn()));
  return new KyselyNotificationStore(db, 'sqlite', writer, options.clock, options.maxScheduledPerPublisher);
}

/**
 * Kysely begins SQLite transactions deferred. One that reads and then writes fails at once
 * (SQLITE_BUSY, no waiting) when another connection, the writer thread, committed in
 * between; beginning immediate takes the write lock first and waits for it instead. A
 * transaction marked read only stays deferred: it reads a snapshot and never waits.
 */
class ImmediateWritesDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateWritesDriver(this.#config);
  }
}

class ImmediateWritesDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(settings?.accessMode === 'read only' ? 'begin' : 'begin immediate'));
  }
}

/** Distinct statements kept prepared: Kysely's queries are few shapes, but `in (…)` lists vary. */
const STATEMENT_CACHE = 200;

/**
 * Kysely prepares every query again; preparing costs as much as running a small one. Keep
 * the most recently used statements by their SQL text. Reuse is safe: Kysely runs one
 * query at a time on its one connection.
 */
function reusingStatements(sqlite: SqliteDatabase, size: number): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    prepare(sql) {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql);
      } else {
        statement = sqlite.prepare(sql);
        if (cache.size >= size) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, statement);
      return statement;
    },
    pragma: (statement) => sqlite.pragma(statement),
    close: () => sqlite.close(),
  };
}
