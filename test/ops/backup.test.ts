// `herald backup <file>`: a consistent copy of a running embedded Herald's database, taken
// while publishes commit. Restored, every stream resumes or resets as the protocol says: a
// cursor the backup holds resumes with exactly what followed it there; one from after the
// backup gets `reset` (its cursor check fails), never a silent skip.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test, type TestContext } from 'node:test';
import { openSqliteHandle } from '../../src/store/sqlite-handle.js';
import { CLI, startHerald } from '../helpers/herald.js';
import { publishAccepted } from '../helpers/publish.js';
import { openStream } from '../helpers/sse-client.js';

const run = promisify(execFile);

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-backup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function cli(args: string[], databaseUrl: string): { status: number | null; stderr: string } {
  // A key configured: development mode refuses a PostgreSQL URL before any command runs.
  const env = { PATH: process.env.PATH ?? '', HERALD_DATABASE_URL: databaseUrl, HERALD_JWT_SECRET: 'backup-test-secret-backup-test-secret-0123' };
  const result = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stderr: result.stderr.trim() };
}

test('a backup taken during a publish load restores: a cursor it holds resumes with what followed there, a later one gets reset', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const database = herald.env.HERALD_DATABASE_URL as string;
  const token = await herald.token('alice', { scope: 'subscribe' });
  const live = await openStream(herald.url, token);
  t.after(() => live.close());
  await live.waitForEvents('ready', 1);
  for (let i = 0; i < 20; i++) await publishAccepted(herald, { recipients: ['alice'], type: 'n', content: `before ${i}` });
  await live.waitForEvents('notification', 20);
  const heldCursor = live.lastId() as string;

  // Publishes keep committing while the backup reads.
  let loading = true;
  let published = 20;
  const load = (async () => {
    for (let i = 0; loading && i < 5000; i++) {
      await publishAccepted(herald, { recipients: ['alice'], type: 'n', content: `during ${i}` });
      published++;
    }
  })();
  const file = join(scratch(t), 'herald-backup.db');
  const { stdout } = await run(process.execPath, [CLI, 'backup', file], { env: { PATH: process.env.PATH ?? '', HERALD_DATABASE_URL: database } });
  loading = false;
  await load;
  assert.equal(JSON.parse(stdout).backup.to, file);
  assert.equal(statSync(file).mode & 0o777, 0o600, 'private, like the database');
  for (let i = 0; i < 3; i++) await publishAccepted(herald, { recipients: ['alice'], type: 'n', content: `after ${i}` });
  published += 3;
  await live.waitForEvents('notification', published);
  const laterCursor = live.lastId() as string;
  live.close();

  const backup = await openSqliteHandle(file, 'full');
  const inBackup = Number((backup.prepare("select count(*) as n from notifications where topic = 'user:alice'").all([])[0] as { n: number }).n);
  backup.close();
  assert.ok(inBackup >= 20 && inBackup < published, `the backup holds ${inBackup} of ${published}`);

  await herald.kill();
  copyFileSync(file, database);
  rmSync(`${database}-wal`, { force: true });
  rmSync(`${database}-shm`, { force: true });
  await herald.restart();

  const resumed = await openStream(herald.url, token, { lastEventId: heldCursor });
  t.after(() => resumed.close());
  const [ready] = await resumed.waitForEvents('ready', 1);
  assert.equal(ready?.data.unread_count, inBackup);
  const replayed = await resumed.waitForEvents('notification', inBackup - 20);
  assert.equal(replayed[0]?.data.content, 'during 0');
  assert.equal(resumed.of('reset').length, 0, 'a cursor the backup holds resumes');

  const later = await openStream(herald.url, token, { lastEventId: laterCursor });
  t.after(() => later.close());
  const [reset] = await later.waitForEvents('reset', 1);
  assert.equal(reset?.data.unread_count, inBackup);
});

test('herald backup never overwrites a file', (t) => {
  const dir = scratch(t);
  const database = join(dir, 'herald.db');
  writeFileSync(join(dir, 'taken'), 'keep me');
  assert.equal(cli(['migrate'], database).status, 0);
  assert.deepEqual(cli(['backup', join(dir, 'taken')], database), {
    status: 1, stderr: `herald: cannot create ${join(dir, 'taken')}: it exists (a backup never overwrites a file)`,
  });
});

test('herald backup of a PostgreSQL URL points to pg_dump', (t) => {
  const dir = scratch(t);
  assert.deepEqual(cli(['backup', join(dir, 'b.db')], 'postgres://herald@127.0.0.1:1/herald'), {
    status: 1, stderr: 'herald: herald backup copies a SQLite database; back up PostgreSQL with pg_dump (docs/operations.md, "Backup and restore")',
  });
  assert.equal(existsSync(join(dir, 'b.db')), false);
});
