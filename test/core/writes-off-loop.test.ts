// Writes besides publishes (receipts, read-all, tickets, preferences, scheduling, cancel,
// delivery, retention) on a SQLite file: each waits for the database's write lock on the
// writer thread, never on the event loop. Another connection holds the lock; a timer
// releases it. Only a loop left free runs that timer before the write's 5 s busy timeout:
// a write waiting on the loop fails (SQLITE_BUSY) and stalls the loop for all of it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { test, type TestContext } from 'node:test';
import { audienceFor } from '../../src/domain/topics.js';
import { toPublishRequest } from '../../src/ingest/publish-request.js';
import { openStore } from '../../src/store/open-store.js';
import { openSqliteHandle } from '../../src/store/sqlite-handle.js';
import type { NotificationStore, PublishRequest } from '../../src/store/store.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };
const request = (content: string, key: string | null = null): PublishRequest => ({
  ...toPublishRequest({ recipients: ['alice'], type: 'n', content }, 'app', LIMITS),
  idempotencyKey: key,
});
const alice = audienceFor('alice', []);
const HOUR_MS = 3600_000;
/** Far above a free loop's few milliseconds (290 ms seen on a loaded machine), far below the 5 s a write waiting on it holds it. */
const LOOP_BOUND_MS = 1000;

async function sqliteFileStore(t: TestContext): Promise<{ store: NotificationStore; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-writes-'));
  const file = join(dir, 'herald.db');
  const store = await openStore(file);
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await store.migrate();
  return { store, file };
}

/** Runs `write` while another connection holds the write lock for 300 ms; answers its result. */
async function whileLocked<T>(t: TestContext, file: string, write: () => Promise<T>): Promise<T> {
  const holder = await openSqliteHandle(file, 'full');
  t.after(() => holder.close());
  holder.prepare('BEGIN IMMEDIATE').run([]);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const release = setTimeout(() => holder.prepare('ROLLBACK').run([]), 300);
  try {
    return await write();
  } finally {
    clearTimeout(release);
    loop.disable();
    assert.ok(loop.max / 1e6 < LOOP_BOUND_MS, `the event loop was held ${Math.round(loop.max / 1e6)} ms while the write waited for the lock`);
  }
}

test('marking a notification read waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  const [event] = (await store.publish(request('one'))).events;
  const updated = await whileLocked(t, file, () => store.updateState(alice, event?.notification.id as string, { status: 'read' }));
  assert.equal(updated?.status, 'read');
});

test('read-all waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  await store.publish(request('one'));
  await store.publish(request('two'));
  assert.equal(await whileLocked(t, file, () => store.markAll(alice, 'read', null)), 2);
});

test('redeeming a stream ticket waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  assert.equal(await whileLocked(t, file, () => store.redeemOnce('ticket-1', Date.now() + 60_000)), true);
  assert.equal(await store.redeemOnce('ticket-1', Date.now() + 60_000), false);
});

test('saving muted types waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  await whileLocked(t, file, () => store.setMutedTypes('alice', ['digest']));
  assert.deepEqual(await store.mutedTypes('alice'), ['digest']);
});

test('scheduling a notification waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  const deliverAt = new Date(Date.now() + HOUR_MS).toISOString();
  const result = await whileLocked(t, file, () => store.publish({ ...request('later'), deliverAt }));
  assert.equal(result.scheduled?.length, 1);
  assert.equal(await store.nextDueAt(), deliverAt);
});

test('cancelling a scheduled notification waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  const deliverAt = new Date(Date.now() + HOUR_MS).toISOString();
  const [scheduled] = (await store.publish({ ...request('later'), deliverAt })).scheduled ?? [];
  assert.equal(await whileLocked(t, file, () => store.cancelScheduled('app', scheduled?.notification.id as string)), 'cancelled');
});

test('delivering a due scheduled notification waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  const deliverAt = new Date(Date.now() - 1000).toISOString();
  await store.publish({ ...request('due'), deliverAt });
  const events = await whileLocked(t, file, () => store.deliverDue(new Date().toISOString(), 10));
  assert.deepEqual(events.map((e) => e.notification.content), ['due']);
});

test('a retention batch of notifications waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  await store.publish(request('old'));
  const purged = await whileLocked(t, file, () => store.retention().purgeNotifications(new Date(Date.now() + HOUR_MS), 10));
  assert.equal(purged.notifications, 1);
});

test('a retention batch of idempotency keys waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  await store.publish(request('keyed', 'key-1'));
  assert.equal(await whileLocked(t, file, () => store.retention().purgeIdempotencyKeys(new Date(Date.now() + HOUR_MS), 10)), 1);
});

test('a retention batch of used tickets waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  await store.redeemOnce('ticket-1', Date.now() - 1000);
  assert.equal(await whileLocked(t, file, () => store.retention().purgeExpiredTickets(Date.now(), 10)), 1);
});

test('taking the retention lease waits for the write lock off the event loop', async (t) => {
  const { store, file } = await sqliteFileStore(t);
  assert.equal(await whileLocked(t, file, () => store.retention().exclusively(async () => 'ran')), 'ran');
});
