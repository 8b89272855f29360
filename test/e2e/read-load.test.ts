// One ordinary user's reads must not hold the node's event loop (issue 26.4): a real Herald
// process with 200,000 stored broadcast notifications, a reader who muted one prefix, and that
// reader's unread counts, inbox page and snoozed list asked many at once. /healthz is asked every 20 ms
// meanwhile, and its slowest answer is the stall; every answer must still be exact.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteHandle } from '../../src/store/sqlite-handle.js';
import { startHerald } from '../helpers/herald.js';
import { call, inMs } from './store-backends.js';

const BROADCASTS = 200_000;
/** Rows x with x % 1000 = 505 expired; with x % 1000 = 0 critical; x % 10 in (0, 1) social.like/comment. */
const PER_THOUSAND = BROADCASTS / 1000;
const SOCIAL = BROADCASTS / 5;
const IN_FLIGHT = 8;
const ROUNDS = 3;
/** Lists in flight at once in the second test: one user's fair share under the per-user rate limit. */
const LISTS = 16;
// The loop's delay, not a benchmark: far above what the reads cost when they are bounded
// (tens of ms on a loaded machine), far below the seconds a scan of every row costs.
const BOUND_MS = 400;

/**
 * Stores the broadcast rows in one statement, beside the running node (WAL): row x is
 * `seed<x>` at sequence x. Types: x%10 = 0 `social.like` (critical when x%1000 = 0), 1
 * `social.comment`, 2 `social`, 3 `socialite`, else `news`; x%1000 = 505 expired an hour ago.
 */
async function seed(databasePath: string): Promise<void> {
  const sqlite = await openSqliteHandle(databasePath, 'normal');
  const now = new Date().toISOString();
  const expired = new Date(Date.now() - 3_600_000).toISOString();
  sqlite.prepare(`
    with recursive i(x) as (select 1 union all select x + 1 from i where x < ${BROADCASTS})
    insert into notifications (id, topic, seq, recipient, type, title, content, data, publisher, created_at, critical, expires_at)
    select 'seed' || x, 'broadcast', x, null,
      case x % 10 when 0 then 'social.like' when 1 then 'social.comment' when 2 then 'social' when 3 then 'socialite' else 'news' end,
      null, 'old ' || x, null, 'publisher', '${now}', case when x % 1000 = 0 then 1 else 0 end,
      case when x % 1000 = 505 then '${expired}' else null end
    from i`).run([]);
  sqlite.prepare(`insert into topics (name, head) values ('broadcast', ${BROADCASTS})
    on conflict (name) do update set head = excluded.head`).run([]);
  sqlite.close();
}

/** The slowest /healthz answer, asked every 20 ms while `work` runs: how long the event loop was held. */
async function slowestHealthzDuring(url: string, work: () => Promise<void>): Promise<number> {
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

test(`one user's unread counts and snoozed list over ${BROADCASTS} broadcast rows, with a mute, do not stall the node`, async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  await seed(herald.env.HERALD_DATABASE_URL as string);
  const token = await herald.token('alice', { scope: 'subscribe' });
  assert.equal((await call(herald, 'PUT', '/v1/preferences', token, { muted_types: ['social.*'] })).status, 200);
  for (const id of ['seed4', 'seed1000']) assert.equal((await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { status: 'read' })).status, 200);
  // seed11 is muted: snoozing it changes nothing the reader sees.
  for (const id of ['seed5', 'seed6', 'seed7', 'seed11']) {
    assert.equal((await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { snoozed_until: inMs(3_600_000) })).status, 200);
  }
  // Live: all less the expired. Hidden: the social.like/comment ones less the critical
  // ones. Less 2 read (one of them critical) and 3 snoozed that are not hidden.
  const expected = BROADCASTS - PER_THOUSAND - (SOCIAL - PER_THOUSAND) - 2 - 3;

  const slowestMs = await slowestHealthzDuring(herald.url, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const [snoozed, inbox, ...counts] = await Promise.all([
        call(herald, 'GET', '/v1/notifications?status=snoozed', token),
        call(herald, 'GET', '/v1/notifications?limit=3', token),
        ...Array.from({ length: IN_FLIGHT }, () => call(herald, 'GET', '/v1/notifications/unread-count', token)),
      ]);
      assert.deepEqual(counts.map((c) => c.body.unread_count), Array(IN_FLIGHT).fill(expected));
      assert.deepEqual(snoozed?.body.items.map((n: { id: string }) => n.id), ['seed7', 'seed6', 'seed5']);
      assert.equal(snoozed?.body.unread_count, expected);
      // Newest first: the last is a critical social.like (shown to a reader who muted it), then news.
      assert.deepEqual(inbox?.body.items.map((n: { id: string }) => n.id), [0, 1, 2].map((back) => `seed${BROADCASTS - back}`));
    }
  });
  t.diagnostic(`slowest /healthz during ${ROUNDS} rounds of ${IN_FLIGHT} counts, an inbox page and a snoozed list: ${Math.round(slowestMs)} ms`);
  assert.ok(slowestMs < BOUND_MS, `/healthz took ${Math.round(slowestMs)} ms`);
});

test(`a reader's read and archived lists over ${BROADCASTS} broadcast rows, with few of them read or archived, do not stall the node`, async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  await seed(herald.env.HERALD_DATABASE_URL as string);
  const token = await herald.token('bob', { scope: 'subscribe' });
  for (const id of ['seed9', 'seed19']) assert.equal((await call(herald, 'PATCH', `/v1/notifications/${id}`, token, { status: 'read' })).status, 200);
  assert.equal((await call(herald, 'PATCH', '/v1/notifications/seed29', token, { archived: true })).status, 200);
  const slowestMs = await slowestHealthzDuring(herald.url, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const lists = await Promise.all(Array.from({ length: LISTS }, (_, i) => call(herald, 'GET', `/v1/notifications?${i % 2 ? 'status=read' : 'archived=true'}`, token)));
      for (const [i, list] of lists.entries()) {
        assert.deepEqual(list.body.items.map((n: { id: string }) => n.id), i % 2 ? ['seed19', 'seed9'] : ['seed29']);
        assert.equal(list.body.unread_count, BROADCASTS - PER_THOUSAND - 3);
      }
    }
  });
  t.diagnostic(`slowest /healthz during ${ROUNDS} rounds of ${LISTS} read and archived lists: ${Math.round(slowestMs)} ms`);
  assert.ok(slowestMs < BOUND_MS, `/healthz took ${Math.round(slowestMs)} ms`);
});
