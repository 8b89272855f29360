// What one SQLite publish transaction writes: the WAL pages a commit carries, per
// notification. A fresh database migrated by `herald migrate`, then TRANSACTIONS transactions
// of PER_TRANSACTION single-recipient rows to random users of USERS, each as the writer does
// it (advance the topic's head, insert the row with a UUIDv7 id), with checkpoints off so
// the WAL holds every frame. Prints frames per commit and per row, and commit time.
//   npm run build && node dist/bench/wal-pages.js
//   PER_TRANSACTION=2 node dist/bench/wal-pages.js
// Node 20 (better-sqlite3); the figures are SQLite's, not the machine's.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { v7 } from 'uuid';
import { CLI } from '../test/helpers/herald.js';

const TRANSACTIONS = Number(process.env.TRANSACTIONS ?? 3000);
const PER_TRANSACTION = Number(process.env.PER_TRANSACTION ?? 10);
const USERS = Number(process.env.USERS ?? 1000);

const dir = mkdtempSync(join(tmpdir(), 'herald-wal-pages-'));
try {
  const path = join(dir, 'herald.db');
  execFileSync(process.execPath, [CLI, 'migrate'], { env: { PATH: process.env.PATH ?? '', HERALD_DATABASE_URL: path, HERALD_JWT_SECRET: 'x'.repeat(32), HERALD_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 0');
  const advance = db.prepare('insert into topics (name, head) values (?, 1) on conflict (name) do update set head = topics.head + 1 returning head');
  const insert = db.prepare(`insert into notifications (id, topic, seq, recipient, type, title, content, data, publisher, created_at, critical, expires_at)
    values (?, ?, ?, ?, 'bench', null, 'a notification of ordinary length', null, 'bench', ?, 0, null)`);
  const begin = db.prepare('begin immediate');
  const commit = db.prepare('commit');
  let commitMs = 0;
  for (let t = 0; t < TRANSACTIONS; t++) {
    begin.run();
    for (let r = 0; r < PER_TRANSACTION; r++) {
      const user = `u${Math.floor(Math.random() * USERS)}`;
      const { head } = advance.get(`user:${user}`) as { head: number };
      insert.run(v7(), `user:${user}`, head, user, new Date().toISOString());
    }
    const t0 = performance.now();
    commit.run();
    commitMs += performance.now() - t0;
  }
  const [wal] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>;
  const frames = wal?.log ?? NaN;
  console.log(JSON.stringify({
    transactions: TRANSACTIONS, perTransaction: PER_TRANSACTION, users: USERS,
    walFramesPerCommit: Number((frames / TRANSACTIONS).toFixed(1)),
    walFramesPerRow: Number((frames / (TRANSACTIONS * PER_TRANSACTION)).toFixed(2)),
    commitMsMean: Number((commitMs / TRANSACTIONS).toFixed(3)),
  }));
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
