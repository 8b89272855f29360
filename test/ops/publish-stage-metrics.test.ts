// Where a publish waits, on a running node: the group commit's queue, then its transaction.
// /metrics counts every publish once in the transaction sizes, and a batch publish's items
// together in one transaction.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';

test('/metrics reports each publish\'s queue wait, its transaction\'s duration, and the publishes per transaction', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('publisher', { scope: 'publish' });
  const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => herald.publish({ recipients: [`stage${i}`], type: 'stage.test', content: 'x' }, token)));
  assert.deepEqual(answers.map((a) => a.status), [202, 202, 202, 202, 202]);
  const batch = await fetch(`${herald.url}/v1/notifications/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ notifications: Array.from({ length: 3 }, (_, i) => ({ recipients: [`batch${i}`], type: 'stage.test', content: 'x' })) }),
  });
  assert.equal(batch.status, 200, await batch.clone().text());
  assert.equal(await herald.metric('herald_publish_transaction_publishes_sum'), 8, 'every publish counted once');
  assert.equal(await herald.metric('herald_publish_queue_seconds_count'), 6, 'one queue wait per request (the batch is one)');
  const transactions = await herald.metric('herald_publish_transaction_seconds_count');
  assert.ok(transactions >= 2 && transactions <= 6, `${transactions} transactions for 6 requests`);
  assert.equal(await herald.metric('herald_publish_transaction_publishes_count'), transactions);
  assert.equal(await herald.metric('herald_publish_transaction_publishes_bucket{le="+Inf"}'), transactions);
  assert.ok(await herald.metric('herald_publish_transaction_publishes_bucket{le="2"}') < transactions, 'the batch of 3 went in one transaction');
  assert.ok(await herald.metric('herald_publish_transaction_seconds_sum') > 0);
});
