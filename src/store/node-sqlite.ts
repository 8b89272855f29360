// SQLite through Node's built-in `node:sqlite`, shaped like the part of better-sqlite3 that
// kysely's SqliteDialect and openStore use. On Node 24, better-sqlite3 12 aborts the
// process when a statement is finalized (RemoveEnvironmentCleanupHook assertion) and
// better-sqlite3 13 does not run on Node 20; the built-in module needs no native build, so
// one lockfile and one `npm ci` serve both.

interface NodeStatement {
  columns(): unknown[];
  all(...parameters: unknown[]): object[];
  run(...parameters: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(...parameters: unknown[]): IterableIterator<object>;
}

interface NodeDatabase {
  prepare(sql: string): NodeStatement;
  exec(sql: string): void;
  close(): void;
}

export interface SqliteStatement {
  readonly reader: boolean;
  all(parameters: readonly unknown[]): unknown[];
  run(parameters: readonly unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(parameters: readonly unknown[]): IterableIterator<unknown>;
}

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  pragma(statement: string): void;
  close(): void;
}

/** Rows of node:sqlite have a null prototype; callers (and deepEqual) expect plain objects. */
function plain(row: object): object {
  return { ...row };
}

export async function openNodeSqlite(path: string): Promise<SqliteDatabase> {
  // A computed specifier: @types/node 20 does not declare node:sqlite.
  const specifier = 'node:sqlite';
  const { DatabaseSync } = (await import(specifier)) as { DatabaseSync: new (path: string) => NodeDatabase };
  const db = new DatabaseSync(path);
  return {
    prepare(sql) {
      const statement = db.prepare(sql);
      return {
        // Like better-sqlite3's `reader`: the statement returns rows (a SELECT or a RETURNING).
        reader: statement.columns().length > 0,
        all: (parameters) => statement.all(...parameters).map(plain),
        run: (parameters) => statement.run(...parameters),
        *iterate(parameters) {
          for (const row of statement.iterate(...parameters)) yield plain(row);
        },
      };
    },
    pragma: (statement) => db.exec(`PRAGMA ${statement}`),
    close: () => db.close(),
  };
}
