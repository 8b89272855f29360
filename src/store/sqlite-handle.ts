import type { SqliteDatabase } from './node-sqlite.js';
import { openNodeSqlite } from './node-sqlite.js';

/** One connection to a SQLite file with Herald's settings (the server's and the writer thread's alike). */
export async function openSqliteHandle(path: string, synchronous: 'full' | 'normal'): Promise<SqliteDatabase> {
  // better-sqlite3 12 aborts on Node 24; Node 24 has SQLite built in (see node-sqlite.ts).
  const sqlite: SqliteDatabase = Number(process.versions.node.split('.')[0]) >= 24
    ? await openNodeSqlite(path)
    : new (await import('better-sqlite3')).default(path) as unknown as SqliteDatabase;
  // First: the writer thread opens its connection while the server's may be migrating.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('journal_mode = WAL');
  // FULL (default): a 202 means the notification is on disk, not only in the page cache.
  sqlite.pragma(`synchronous = ${synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  return sqlite;
}
