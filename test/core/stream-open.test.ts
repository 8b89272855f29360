// What opening a stream reads: a stream that starts at the heads has no backlog to read,
// and what is published while it opens still reaches it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStream } from '../helpers/sse-client.js';
import { gate, overrideStore, startCore } from './harness.js';

test('a stream that starts at the topic heads reads no backlog from the store', async (t) => {
  let replayReads = 0;
  const herald = await startCore({
    wrapStore: (store) => overrideStore(store, {
      eventsAfter(topic, afterSeq, limit, reader) {
        // With a reader: a session's replay (the hub's gap fill reads without one).
        if (reader !== undefined) replayReads += 1;
        return store.eventsAfter(topic, afterSeq, limit, reader);
      },
    }),
  });
  t.after(() => herald.close());
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'before' });
  const stream = await openStream(herald.url, await herald.token('alice'));
  t.after(() => stream.close());
  const [ready] = await stream.waitForEvents('ready', 1);
  assert.equal(ready?.data.unread_count, 1);
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'after' });
  const [event] = await stream.waitForEvents('notification', 1);
  assert.equal(event?.data.content, 'after');
  assert.equal(replayReads, 0);
});

test('a notification published after the snapshot of an opening stream is sent after ready', async (t) => {
  const snapshotTaken = gate();
  const proceed = gate();
  let hold = true;
  const herald = await startCore({
    wrapStore: (store) => overrideStore(store, {
      async unreadSnapshot(audience) {
        const snapshot = await store.unreadSnapshot(audience);
        if (hold) {
          hold = false;
          snapshotTaken.open();
          await proceed.promise;
        }
        return snapshot;
      },
    }),
  });
  t.after(() => herald.close());
  const opening = openStream(herald.url, await herald.token('alice'));
  await snapshotTaken.promise;
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'while opening' });
  proceed.open();
  const stream = await opening;
  t.after(() => stream.close());
  const [event] = await stream.waitForEvents('notification', 1);
  assert.equal(event?.data.content, 'while opening');
  assert.equal(event?.data.unread_count, 1);
  assert.deepEqual(stream.events.map((e) => e.event), ['ready', 'notification']);
});
