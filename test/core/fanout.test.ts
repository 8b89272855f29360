// The hub's fan-out: order, gap fill, slow readers, timers, drain, and store failures.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import type { BusMessage } from '../../src/bus/bus.js';
import type { KyselyNotificationStore } from '../../src/store/kysely-store.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { overrideStore, readyStream, startCore } from './harness.js';

test('a hint the bus lost is a gap: later events wait until it is read from the store, in order', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const { stream } = await readyStream(t, herald, 'alice');
  let dropped = 0;
  herald.bus.filter = (m: BusMessage) => (m.kind === 'notification' && m.event.seq === 2 && dropped++ === 0 ? 'drop' : 'deliver');
  for (const content of ['1', '2', '3', '4']) await herald.publish({ recipients: ['alice'], type: 'n', content });
  const events = await stream.waitForEvents('notification', 4);
  assert.deepEqual(events.map((e) => e.data.content), ['1', '2', '3', '4']);
  assert.equal(dropped, 1);
});

test('hints repeated and reordered by the bus deliver each event once, in order', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const { stream } = await readyStream(t, herald, 'alice');
  herald.bus.filter = () => 'hold';
  for (const content of ['1', '2', '3']) await herald.publish({ recipients: ['alice'], type: 'n', content });
  herald.bus.release((held) => [...held.reverse(), ...held]);
  const events = await stream.waitForEvents('notification', 3);
  assert.deepEqual(events.map((e) => e.data.content), ['1', '2', '3']);
  assert.equal(stream.of('notification').length, 3);
});

test('a failed first read of a topic head fails only the streams opening then, not the next ones', async (t) => {
  let failNext = true;
  const herald = await startCore({
    wrapStore: (store) => overrideStore(store, {
      async heads(topics) {
        if (failNext && topics.includes('broadcast')) {
          failNext = false;
          throw new Error('database away');
        }
        return store.heads(topics);
      },
    }),
  });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const failed = await openStream(herald.url, token);
  await failed.ended;
  assert.equal(failed.of('ready').length, 0);
  await waitFor(() => herald.hub.size === 0, 'the failed stream to be released');
  const next = await openStream(herald.url, token);
  t.after(() => next.close());
  await next.waitForEvents('ready', 1);
  await herald.publish({ topic: 'broadcast', type: 'n', content: 'to all' });
  const [event] = await next.waitForEvents('notification', 1);
  assert.equal(event?.data.content, 'to all');
});

test('a reader that does not read is cut at the buffer bound, and its cursor resumes with nothing lost', async (t) => {
  const herald = await startCore({ env: { HERALD_STREAM_BUFFER_BYTES: String(64 * 1024) } });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const first = await openStream(herald.url, token);
  const [ready] = await first.waitForEvents('ready', 1);
  first.close();
  await waitFor(() => herald.hub.size === 0, 'the first stream to close');
  // A raw socket that sends its request and never reads a byte.
  const socket = connect(Number(new URL(herald.url).port), '127.0.0.1');
  t.after(() => socket.destroy());
  socket.pause();
  socket.write(`GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  await waitFor(() => herald.hub.size === 1, 'the silent reader to be admitted');
  // Enough to fill the kernel's socket buffers (several MB on loopback) and then the bound.
  const content = 'y'.repeat(60_000);
  for (let i = 0; i < 1000 && herald.hub.size > 0; i++) await herald.publish({ recipients: ['alice'], type: 'n', content: `${i} ${content}` });
  await waitFor(() => herald.hub.size === 0, 'the silent reader to be cut');
  assert.equal(await herald.metric('herald_stream_closed_total', 'reason="slow_consumer"'), 1);
  const published = (await herald.request('GET', '/v1/notifications/unread-count', token)).body.unread_count as number;

  const resumed = await openStream(herald.url, token, { lastEventId: ready?.id });
  t.after(() => resumed.close());
  const events = await resumed.waitForEvents('notification', published, 30_000);
  assert.deepEqual(events.map((e) => Number(e.data.content.split(' ')[0])), Array.from({ length: published }, (_, i) => i));
});

test('the sweep sends a heartbeat after a quiet heartbeat interval, and auth-expired at the token\'s exp', async (t) => {
  const herald = await startCore({ env: { HERALD_HEARTBEAT_MS: '5000' } });
  t.after(() => herald.close());
  const token = await herald.token('alice', { ttlS: 60 });
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  herald.hub.sweep();
  assert.equal(stream.comments.length, 0);
  herald.clock.advance(5000);
  herald.hub.sweep();
  await waitFor(() => stream.comments.length === 1, 'a heartbeat comment');
  herald.clock.advance(60_000);
  herald.hub.sweep();
  const [expired] = await stream.waitForEvents('auth-expired', 1);
  assert.equal(expired?.data.reason, 'token_expired');
  await stream.ended;
  assert.equal(await herald.metric('herald_stream_closed_total', 'reason="token_expired"'), 1);
});

test('drain closes every stream with a retry hint and refuses new ones with 503', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const tokens = await Promise.all(['a', 'b', 'c'].map((u) => herald.token(u)));
  const streams = await Promise.all(tokens.map((token) => openStream(herald.url, token)));
  for (const stream of streams) await stream.waitForEvents('ready', 1);
  await herald.hub.drain(50);
  for (const stream of streams) await stream.ended;
  assert.equal(herald.hub.size, 0);
  assert.equal(await herald.metric('herald_stream_closed_total', 'reason="drain"'), 3);
  const refused = await fetch(`${herald.url}/v1/stream`, { headers: { authorization: `Bearer ${tokens[0]}` } });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  await refused.body?.cancel();
});

test('a topic head that goes back under a running node (a restore) resets the streams that follow it', async (t) => {
  let rewound = false;
  const herald = await startCore({
    wrapStore: (store) => overrideStore(store, {
      async heads(topics) {
        const heads = await store.heads(topics);
        if (rewound && heads.has('user:alice')) heads.set('user:alice', 0);
        return heads;
      },
    }),
  });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const stream = await openStream(herald.url, token);
  await stream.waitForEvents('ready', 1);
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'a' });
  await stream.waitForEvents('notification', 1);
  rewound = true;
  herald.hub.resync();
  await stream.ended;
  assert.equal(await herald.metric('herald_stream_closed_total', 'reason="reset"'), 1);
});

test('a restore that loses the last delivered position is found at the next resync even when the next positions came back before it', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const stream = await openStream(herald.url, token);
  await stream.waitForEvents('ready', 1);
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'kept' });
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'lost' });
  await stream.waitForEvents('notification', 2);
  // A backup taken before 'lost' is restored under the running node.
  const { db } = herald.store as KyselyNotificationStore;
  await db.deleteFrom('notifications').where('content', '=', 'lost').execute();
  await db.updateTable('topics').set({ head: 1 }).where('name', '=', 'user:alice').execute();
  // 'again' takes the restored position 2, and its hint is lost; 'next' (position 3) is hinted.
  herald.bus.filter = (m: BusMessage) => (m.kind === 'notification' && m.event.notification.content === 'again' ? 'drop' : 'deliver');
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'again' });
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'next' });
  await stream.waitForEvents('notification', 3);
  // The heads are past this node's positions again: only the ids tell that 'again' was never sent.
  herald.hub.resync();
  await waitFor(async () => (await herald.metric('herald_stream_closed_total', 'reason="reset"')) === 1, 'the stream to be reset', 5000);
  await stream.ended;
});
