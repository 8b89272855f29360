// Which errors mean "the database is away or busy, retry" (503, requeue) rather than "this
// request is wrong" (500, dead-letter): decided by the driver's code, never its wording.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isUnreachable } from '../../src/errors.js';
import { tagConnectionErrors } from '../../src/store/open-store.js';
import { openSqliteHandle } from '../../src/store/sqlite-handle.js';
import { encodeError } from '../../src/store/sqlite-thread-writer.js';

/** node:sqlite's shape (Node 22.5+): a generic code, SQLite's result code in `errcode`. */
const nodeSqliteError = (errcode: number, errstr: string) => Object.assign(new Error(errstr), { code: 'ERR_SQLITE_ERROR', errcode, errstr });

test('node:sqlite SQLITE_BUSY (errcode 5) is a busy database, not a bad request', () => {
  assert.equal(isUnreachable(nodeSqliteError(5, 'database is locked')), true);
});

test('node:sqlite SQLITE_BUSY_SNAPSHOT (extended errcode 517) is a busy database', () => {
  assert.equal(isUnreachable(nodeSqliteError(517, 'database is locked')), true);
});

test('node:sqlite SQLITE_LOCKED (errcode 6) is a busy database', () => {
  assert.equal(isUnreachable(nodeSqliteError(6, 'database table is locked')), true);
});

test('better-sqlite3 SQLITE_BUSY_RECOVERY (an extended code) is a busy database', () => {
  assert.equal(isUnreachable(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY_RECOVERY' })), true);
});

test('node:sqlite SQLITE_CONSTRAINT (errcode 19) is the request\'s fault', () => {
  assert.equal(isUnreachable(nodeSqliteError(19, 'UNIQUE constraint failed: notifications.id')), false);
});

test('a constraint error whose text mentions a timeout is still the request\'s fault (the code decides)', () => {
  assert.equal(isUnreachable(Object.assign(new Error('CHECK constraint failed: timeout_ms > 0'), { code: 'SQLITE_CONSTRAINT_CHECK' })), false);
});

test('a real lock held by another connection, on this Node\'s SQLite driver, is a busy database', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-errors-'));
  const path = join(dir, 'lock.db');
  const holder = await openSqliteHandle(path, 'full');
  const waiter = await openSqliteHandle(path, 'full');
  t.after(() => {
    waiter.close();
    holder.close();
    rmSync(dir, { recursive: true, force: true });
  });
  holder.prepare('CREATE TABLE t (x INTEGER)').run([]);
  waiter.pragma('busy_timeout = 0');
  holder.prepare('BEGIN IMMEDIATE').run([]);
  let caught: unknown = null;
  try {
    waiter.prepare('INSERT INTO t (x) VALUES (1)').run([]);
  } catch (err) {
    caught = err;
  }
  holder.prepare('ROLLBACK').run([]);
  assert.ok(caught instanceof Error, 'the write waited for no lock');
  assert.equal(isUnreachable(caught), true, `${(caught as { code?: string }).code}: ${(caught as Error).message}`);
});

test('a lock error keeps its node:sqlite errcode across the writer thread', () => {
  assert.deepEqual(encodeError(nodeSqliteError(5, 'database is locked')), { herald: false, code: 'ERR_SQLITE_ERROR', errcode: 5, message: 'database is locked' });
});

test('an error without a code is not judged by its text: "connect" in a message is no outage', () => {
  assert.equal(isUnreachable(new Error('could not connect the dots in the template')), false);
});

test('a PostgreSQL client error without a SQLSTATE (the connection died under a query) is tagged at the driver as an outage', async () => {
  const lost = await tagConnectionErrors(Promise.reject(new Error('Connection terminated unexpectedly'))).catch((err: unknown) => err);
  assert.equal(isUnreachable(lost), true);
});

test('a PostgreSQL server error keeps its SQLSTATE: a unique violation stays the request\'s fault', async () => {
  const refused = await tagConnectionErrors(Promise.reject(Object.assign(new Error('duplicate key value'), { code: '23505' }))).catch((err: unknown) => err);
  assert.equal((refused as { code?: string }).code, '23505');
  assert.equal(isUnreachable(refused), false);
});
