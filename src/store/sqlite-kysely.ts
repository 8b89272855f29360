// Kysely on a SQLite connection as Herald uses it, on the server's thread and the writer's.
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig, type TransactionSettings } from 'kysely';
import type { SqliteDatabase, SqliteStatement } from './node-sqlite.js';
import type { Database } from './schema.js';

export function sqliteKysely(sqlite: SqliteDatabase): Kysely<Database> {
  return new Kysely<Database>({ dialect: new ImmediateWritesDialect({ database: reusingStatements(sqlite, STATEMENT_CACHE) }) });
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
