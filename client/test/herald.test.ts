import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../../test/helpers/herald.js';
import { HeraldInbox } from '../src/inbox.js';
import { HeraldStream } from '../src/stream.js';
import type { NotificationEvent, StreamState } from '../src/types.js';
import { waitFor } from '../../test/helpers/wait.js';

test('against a real Herald: live events, resume across kill -9 with nothing lost or doubled, inbox helpers', async (t) => {
  const h = await startHerald();
  t.after(() => h.stop());
  const getToken = () => h.token('erin');
  const stream = new HeraldStream({ url: h.url, getToken, minDelayMs: 50, maxDelayMs: 300 });
  const inbox = new HeraldInbox({ url: h.url, getToken });
  const got: NotificationEvent[] = [];
  const states: StreamState[] = [];
  let resets = 0;
  stream.on('notification', (n) => got.push(n));
  stream.on('state', ({ newState }) => states.push(newState));
  stream.on('reset', () => (resets += 1));
  t.after(() => stream.close());
  stream.start();
  await waitFor(() => stream.state === 'open', 'open', 10_000);

  const publish = async (content: string) => {
    const answer = await h.publish({ recipients: ['erin'], type: 'alert', content });
    assert.equal(answer.status, 202);
  };
  for (let i = 1; i <= 3; i += 1) await publish(`live ${i}`);
  await waitFor(() => got.length === 3, 'three live notifications');
  assert.equal(got[2]?.unread_count, 3);

  await h.kill('SIGKILL');
  await waitFor(() => stream.state === 'reconnecting', 'reconnecting', 10_000);
  await h.restart();
  for (let i = 4; i <= 6; i += 1) await publish(`after restart ${i}`);
  await waitFor(() => got.length >= 6 && stream.state === 'open', 'the missed ones after the restart', 15_000);
  const expected = ['live 1', 'live 2', 'live 3', 'after restart 4', 'after restart 5', 'after restart 6'];
  assert.deepEqual(got.map((n) => n.content), expected);
  assert.equal(resets, 0);
  assert.ok(states.includes('reconnecting'));

  const page = await inbox.list({ limit: 2 });
  assert.equal(page.items.length, 2);
  assert.equal(page.unread_count, 6);
  assert.equal(page.items[0]?.content, 'after restart 6');
  assert.ok(page.next_cursor);
  const rest = await inbox.list({ cursor: page.next_cursor });
  assert.equal(rest.items.length, 4);

  const updates: number[] = [];
  stream.on('notification.updated', (u) => updates.push(u.unread_count));
  const first = got[0]!;
  const read = await inbox.markRead(first.id);
  assert.equal(read.notification.status, 'read');
  assert.equal(read.unread_count, 5);
  assert.equal(await inbox.unreadCount(), 5);
  assert.equal((await inbox.list({ status: 'unread' })).items.length, 5);
  assert.equal((await inbox.markUnread(first.id)).unread_count, 6);
  assert.equal((await inbox.readAll()).unread_count, 0);
  await waitFor(() => updates.at(-1) === 0, 'the stream reports every change, ending at 0');
  assert.deepEqual(updates, [5, 6, 0]);
  // These updates came on the same stream after the replay: a duplicate would be here by now.
  assert.deepEqual(got.map((n) => n.content), expected, 'nothing delivered twice');

  await assert.rejects(inbox.markRead('no-such-id'), (err: Error & { status?: number }) => err.status === 404);
});
