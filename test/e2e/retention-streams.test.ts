// Retention deletes old notifications, unread ones too: open streams are told which left
// and the count they come to, as for an expiry, instead of showing a count too high until
// the next change. Time is moved by dating rows back in the database file (retention
// compares created_at with the wall clock); everything else goes through a real process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { openSqliteHandle } from '../../src/store/sqlite-handle.js';

const LONG_AGO = '2000-01-01T00:00:00.000Z';

test('streams hear of unread notifications retention deleted, with the count they leave', async (t) => {
  const herald = await startHerald({ env: { HERALD_RETENTION_DAYS: '1', HERALD_RETENTION_INTERVAL_S: '1' } });
  t.after(() => herald.stop());
  const token = await herald.token('alice', { scope: 'subscribe' });
  const old = await herald.publish({ recipients: ['alice'], type: 'n', content: 'old' });
  await herald.publish({ recipients: ['alice'], type: 'n', content: 'recent' });
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  const [ready] = await stream.waitForEvents('ready', 1);
  assert.equal(ready?.data.unread_count, 2);

  const oldId = old.body.notifications[0].id as string;
  const db = await openSqliteHandle(herald.env.HERALD_DATABASE_URL as string, 'full');
  try {
    db.prepare('update notifications set created_at = ? where id = ?').run([LONG_AGO, oldId]);
  } finally {
    db.close();
  }
  const [removed] = await stream.waitForEvents('notification.expired', 1, 15_000);
  assert.deepEqual(removed?.data, { ids: [oldId], unread_count: 1 });
});
