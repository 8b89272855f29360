// Load for tests of the event loop's delay: many stored rows written straight into a
// running node's SQLite file, and the slowest /healthz answer while some work runs.
import { openSqliteHandle } from '../../src/store/sqlite-handle.js';

/**
 * Stores the broadcast rows in one statement, beside the running node (WAL): row x is
 * `seed<x>` at sequence x. Types: x%10 = 0 `social.like` (critical when x%1000 = 0), 1
 * `social.comment`, 2 `social`, 3 `socialite`, else `news`; x%1000 = 505 expired an hour ago.
 */
export async function seedBroadcasts(databasePath: string, count: number): Promise<void> {
  const sqlite = await openSqliteHandle(databasePath, 'normal');
  const now = new Date().toISOString();
  const expired = new Date(Date.now() - 3_600_000).toISOString();
  sqlite.prepare(`
    with recursive i(x) as (select 1 union all select x + 1 from i where x < ${count})
    insert into notifications (id, topic, seq, recipient, type, title, content, data, publisher, created_at, critical, expires_at)
    select 'seed' || x, 'broadcast', x, null,
      case x % 10 when 0 then 'social.like' when 1 then 'social.comment' when 2 then 'social' when 3 then 'socialite' else 'news' end,
      null, 'old ' || x, null, 'publisher', '${now}', case when x % 1000 = 0 then 1 else 0 end,
      case when x % 1000 = 505 then '${expired}' else null end
    from i`).run([]);
  sqlite.prepare(`insert into topics (name, head) values ('broadcast', ${count})
    on conflict (name) do update set head = excluded.head`).run([]);
  sqlite.close();
}

/** The slowest /healthz answer, asked every 20 ms while `work` runs: how long the event loop was held. */
export async function slowestHealthzDuring(url: string, work: () => Promise<void>): Promise<number> {
  let slowestMs = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const started = performance.now();
      await (await fetch(`${url}/healthz`)).text();
      slowestMs = Math.max(slowestMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await work();
  } finally {
    polling = false;
    await poll;
  }
  return slowestMs;
}
