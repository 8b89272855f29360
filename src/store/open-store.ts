import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { KyselyNotificationStore } from './kysely-store.js';
import { openNodeSqlite } from './node-sqlite.js';
import type { Database } from './schema.js';
import type { NotificationStore } from './store.js';

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
}

export async function openStore(databaseUrl: string, options: StoreOptions = {}): Promise<NotificationStore> {
  if (isPostgresUrl(databaseUrl)) {
    const pg = (await import('pg')).default;
    // int8 (sequence numbers, counts) as JS numbers: they stay far below 2^53.
    pg.types.setTypeParser(20, (value: string) => Number.parseInt(value, 10));
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 5000 });
    // A client losing its connection (database restart) must not crash the process: idle
    // ones report through the pool, checked-out ones (between two statements of a
    // transaction) emit on themselves. The statement in flight still fails and is retried.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    return new KyselyNotificationStore(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), 'postgres');
  }
  const path = sqlitePath(databaseUrl);
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  // better-sqlite3 12 aborts on Node 24; Node 24 has SQLite built in (see node-sqlite.ts).
  const sqlite = Number(process.versions.node.split('.')[0]) >= 24
    ? await openNodeSqlite(path)
    : new (await import('better-sqlite3')).default(path);
  sqlite.pragma('journal_mode = WAL');
  // FULL (default): a 202 means the notification is on disk, not only in the page cache.
  sqlite.pragma(`synchronous = ${options.sqliteSynchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  sqlite.pragma('busy_timeout = 5000');
  return new KyselyNotificationStore(new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }), 'sqlite');
}
