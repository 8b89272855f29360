import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';

test('many concurrent publishers to one user: in order, no gap, no duplicate, live and on replay', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('alice');
  const live = await openStream(herald.url, token);
  t.after(() => live.close());
  const [ready] = await live.waitForEvents('ready', 1);

  const publishers = 8;
  const perPublisher = 40;
  const publisherTokens = await Promise.all(Array.from({ length: publishers }, (_, i) => herald.token(`app-${i}`, { scope: 'publish' })));
  const accepted: string[] = [];
  await Promise.all(publisherTokens.map(async (ptoken, p) => {
    for (let i = 0; i < perPublisher; i++) {
      const res = await herald.publish({ recipients: ['alice'], type: 'load', content: `p${p}-${i}` }, ptoken);
      assert.equal(res.status, 202);
      accepted.push(res.body.notifications[0].id);
    }
  }));
  const total = publishers * perPublisher;
  const events = await live.waitForEvents('notification', total, 30_000);
  const seqs = events.map((e) => Number(e.id?.split('.')[1]));
  assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i + 1), 'sequence numbers 1..N in order');
  assert.equal(new Set(events.map((e) => e.data.id)).size, total, 'no duplicates');
  assert.deepEqual(new Set(events.map((e) => e.data.id)), new Set(accepted), 'exactly the accepted notifications');
  // Each publisher's own notifications keep their publish order.
  for (let p = 0; p < publishers; p++) {
    const mine = events.map((e) => e.data.content as string).filter((c) => c.startsWith(`p${p}-`));
    assert.deepEqual(mine, Array.from({ length: perPublisher }, (_, i) => `p${p}-${i}`));
  }

  const replay = await openStream(herald.url, token, { lastEventId: ready?.id });
  t.after(() => replay.close());
  const replayed = await replay.waitForEvents('notification', total, 30_000);
  assert.deepEqual(replayed.map((e) => e.data.id), events.map((e) => e.data.id), 'replay from the first cursor is identical');
  assert.deepEqual(replayed.map((e) => e.id), events.map((e) => e.id));
});
