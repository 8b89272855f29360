// Resume from a cursor: exact, with the reader's state, at the reader's pace.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStream } from '../helpers/sse-client.js';
import { gate, overrideStore, startCore } from './harness.js';

async function readyCursor(url: string, token: string): Promise<string> {
  const stream = await openStream(url, token);
  const [ready] = await stream.waitForEvents('ready', 1);
  stream.close();
  return ready?.id as string;
}

test('a reader that keeps up gets a backlog far larger than its buffer bound on one connection', async (t) => {
  const herald = await startCore({ env: { HERALD_STREAM_BUFFER_BYTES: String(64 * 1024) } });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const cursor = await readyCursor(herald.url, token);
  const content = 'x'.repeat(4000);
  // 700 × 4 KB: more than one replay page and ~45 times the buffer bound.
  for (let i = 0; i < 700; i++) await herald.publish({ recipients: ['alice'], type: 'bulk', content: `${i} ${content}` });

  const stream = await openStream(herald.url, token, { lastEventId: cursor });
  t.after(() => stream.close());
  const events = await stream.waitForEvents('notification', 700, 30_000);
  assert.deepEqual(events.map((e) => Number(e.data.content.split(' ')[0])), Array.from({ length: 700 }, (_, i) => i));
  assert.equal(await herald.metric('herald_stream_closed_total', 'reason="slow_consumer"'), 0);
  assert.equal(herald.hub.size, 1, 'still the same connection');
});

test('replayed events carry the reader\'s current read state, as the inbox shows it', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const cursor = await readyCursor(herald.url, token);
  const first = await herald.publish({ recipients: ['alice'], type: 'alert', content: 'first' });
  await herald.publish({ recipients: ['alice'], type: 'alert', content: 'second' });
  const id = first.body.notifications[0].id as string;
  assert.equal((await herald.request('PATCH', `/v1/notifications/${id}`, token, { status: 'read' })).status, 200);

  const stream = await openStream(herald.url, token, { lastEventId: cursor });
  t.after(() => stream.close());
  const events = await stream.waitForEvents('notification', 2);
  assert.deepEqual(events.map((e) => [e.data.content, e.data.status, e.data.read_at !== null]), [['first', 'read', true], ['second', 'unread', false]]);
  assert.equal(events[1]?.data.unread_count, 1);
});

test('live events published during a replay are held, then sent once, in order', async (t) => {
  const replaying = gate();
  const proceed = gate();
  let holdNext = false;
  const herald = await startCore({
    wrapStore: (store) => overrideStore(store, {
      async eventsAfter(topic, after, limit, reader) {
        if (holdNext && reader !== undefined && topic.startsWith('user:')) {
          holdNext = false;
          replaying.open();
          await proceed.promise;
        }
        return store.eventsAfter(topic, after, limit, reader);
      },
    }),
  });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const cursor = await readyCursor(herald.url, token);
  for (let i = 0; i < 3; i++) await herald.publish({ recipients: ['alice'], type: 'n', content: `missed-${i}` });
  holdNext = true;
  const stream = await openStream(herald.url, token, { lastEventId: cursor });
  t.after(() => stream.close());
  await replaying.promise;
  for (let i = 0; i < 3; i++) await herald.publish({ recipients: ['alice'], type: 'n', content: `live-${i}` });
  proceed.open();
  const events = await stream.waitForEvents('notification', 6);
  await stream.waitForEvents('ready', 1);
  assert.deepEqual(events.map((e) => e.data.content), ['missed-0', 'missed-1', 'missed-2', 'live-0', 'live-1', 'live-2']);
  assert.deepEqual(events.map((e) => e.data.unread_count), [3, 3, 3, 4, 5, 6]);
  assert.equal(stream.events[0]?.event, 'ready');
});

test('a user with 100 groups of 64-character names resumes exactly, without a reset', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const groups = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, '0')}-${'g'.repeat(60)}`);
  const token = await herald.token('carol', { groups });
  const live = await openStream(herald.url, token);
  await live.waitForEvents('ready', 1);
  await herald.publish({ topic: `group:${groups[7]}`, type: 'n', content: 'seen' });
  const [seen] = await live.waitForEvents('notification', 1);
  live.close();
  assert.ok((seen?.id?.length ?? 0) < 2048, `cursor of ${seen?.id?.length} chars`);

  await herald.publish({ topic: `group:${groups[7]}`, type: 'n', content: 'missed-a' });
  await herald.publish({ topic: `group:${groups[99]}`, type: 'n', content: 'missed-b' });
  const resumed = await openStream(herald.url, token, { lastEventId: seen?.id });
  t.after(() => resumed.close());
  const events = await resumed.waitForEvents('notification', 2);
  assert.deepEqual(events.map((e) => e.data.content), ['missed-a', 'missed-b']);
  assert.equal(resumed.of('reset').length, 0);
});

test('the same cursor works as the last_event_id query parameter for a user with 100 long groups', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const groups = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, '0')}-${'q'.repeat(60)}`);
  const token = await herald.token('carol', { groups });
  const cursor = await readyCursor(herald.url, token);
  await herald.publish({ topic: `group:${groups[50]}`, type: 'n', content: 'missed' });
  const resumed = await openStream(herald.url, token, { query: `last_event_id=${encodeURIComponent(cursor)}` });
  t.after(() => resumed.close());
  assert.equal(resumed.status, 200);
  const [event] = await resumed.waitForEvents('notification', 1);
  assert.equal(event?.data.content, 'missed');
  assert.equal(resumed.of('reset').length, 0);
});

test('a restored backup answers reset to a cursor from after the backup, even once its heads pass it again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-restore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const live = join(dir, 'herald.db');
  const backup = join(dir, 'backup.db');
  const first = await startCore({ databasePath: live });
  const token = await first.token('alice');
  await first.publish({ recipients: ['alice'], type: 'n', content: 'kept' });
  await first.close();
  copyFileSync(live, backup);
  const before = await startCore({ databasePath: live });
  await before.publish({ recipients: ['alice'], type: 'n', content: 'lost-1' });
  await before.publish({ recipients: ['alice'], type: 'n', content: 'lost-2' });
  const cursor = await readyCursor(before.url, token);
  await before.close();

  copyFileSync(backup, live);
  rmSync(`${live}-wal`, { force: true });
  rmSync(`${live}-shm`, { force: true });
  const after = await startCore({ databasePath: live });
  t.after(() => after.close());
  for (const content of ['new-1', 'new-2', 'new-3']) await after.publish({ recipients: ['alice'], type: 'n', content });
  const stream = await openStream(after.url, token, { lastEventId: cursor });
  t.after(() => stream.close());
  const [reset] = await stream.waitForEvents('reset', 1);
  assert.equal(reset?.data.unread_count, 4);
});

test('an unchanged database resumes the same cursor without a reset', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'one' });
  const cursor = await readyCursor(herald.url, token);
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'two' });
  const stream = await openStream(herald.url, token, { lastEventId: cursor });
  t.after(() => stream.close());
  const [event] = await stream.waitForEvents('notification', 1);
  assert.equal(event?.data.content, 'two');
  assert.equal(stream.of('reset').length, 0);
});

test('a cursor whose position and the next one retention deleted gets reset: the reader missed what was purged', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'oldest' });
  const purgedCursor = await readyCursor(herald.url, token);
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'second' });
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'newest' });
  // The two oldest: retention deletes the oldest first, in batches.
  assert.equal((await herald.store.retention().purgeNotifications(new Date(Date.now() + 60_000), 2)).notifications, 2);

  const reset = await openStream(herald.url, token, { lastEventId: purgedCursor });
  t.after(() => reset.close());
  await reset.waitForEvents('reset', 1);
});

test('a cursor whose position retention deleted, with everything after it kept, resumes with what followed', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'oldest' });
  const purgedCursor = await readyCursor(herald.url, token);
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'kept' });
  assert.equal((await herald.store.retention().purgeNotifications(new Date(Date.now() + 60_000), 1)).notifications, 1);

  const resumed = await openStream(herald.url, token, { lastEventId: purgedCursor });
  t.after(() => resumed.close());
  const [event] = await resumed.waitForEvents('notification', 1);
  assert.equal(event?.data.content, 'kept');
  assert.equal(resumed.of('reset').length, 0);
});

test('after retention purged a topic\'s newest row, a stream started there resumes with no reset when nothing new came', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'only' });
  assert.equal((await herald.store.retention().purgeNotifications(new Date(Date.now() + 60_000), 10)).notifications, 1);
  const cursor = await readyCursor(herald.url, token);

  const resumed = await openStream(herald.url, token, { lastEventId: cursor });
  t.after(() => resumed.close());
  await resumed.waitForEvents('ready', 1);
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'after the purge' });
  const [event] = await resumed.waitForEvents('notification', 1);
  assert.equal(event?.data.content, 'after the purge');
  assert.equal(resumed.of('reset').length, 0);
});
