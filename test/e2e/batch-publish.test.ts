// POST /v1/notifications/batch end to end: a real Herald process on SQLite and on
// PostgreSQL, real streams. Each case uses its own users, so cases on one server stay apart.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { HeraldProcess } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { call, heraldOn, STORES } from './store-backends.js';


async function batch(herald: HeraldProcess, notifications: unknown, token?: string) {
  return call(herald, 'POST', '/v1/notifications/batch', token ?? await herald.token('batcher', { scope: 'publish' }), { notifications });
}

async function batchCases(t: TestContext, herald: HeraldProcess): Promise<void> {
  await t.test('the valid items are stored and streamed; an invalid one fails alone, in its place in the answer', async (st) => {
    const s = await openStream(herald.url, await herald.token('b1'));
    st.after(() => s.close());
    await s.waitForEvents('ready', 1);
    const res = await batch(herald, [
      { recipients: ['b1'], type: 'digest', content: 'first' },
      { recipients: ['b1'], type: 'digest' },
      { topic: 'group:b1', type: 'digest', content: 'to a group' },
      { recipients: ['b1', 'b2'], type: 'digest', content: 'last' },
    ]);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.results.map((r: { status: number }) => r.status), [202, 400, 202, 202]);
    assert.deepEqual(res.body.results[1].error.code, 'invalid_request');
    assert.deepEqual(res.body.results[3].notifications.map((n: { recipient: string }) => n.recipient), ['b1', 'b2']);
    const events = await s.waitForEvents('notification', 2);
    assert.deepEqual(events.map((e) => e.data.content), ['first', 'last']);
    assert.deepEqual(events.map((e) => e.data.id), [res.body.results[0].notifications[0].id, res.body.results[3].notifications[0].id]);
  });

  await t.test('sent again, a batch of keyed items answers the same ids and stores nothing new', async () => {
    const items = [1, 2, 3].map((i) => ({ recipients: ['b3'], type: 'digest', content: `n${i}`, idempotency_key: `b3-${i}` }));
    const first = await batch(herald, items);
    const again = await batch(herald, items);
    const ids = (res: typeof first) => res.body.results.map((r: { notifications: Array<{ id: string }> }) => r.notifications[0]?.id);
    assert.deepEqual(ids(again), ids(first));
    const inbox = await call(herald, 'GET', '/v1/notifications', await herald.token('b3'));
    assert.equal(inbox.body.items.length, 3);
  });

  await t.test('an item reusing a key with another body fails alone with 409 idempotency_conflict', async () => {
    await batch(herald, [{ recipients: ['b4'], type: 'digest', content: 'original', idempotency_key: 'b4' }]);
    const res = await batch(herald, [
      { recipients: ['b4'], type: 'digest', content: 'changed', idempotency_key: 'b4' },
      { recipients: ['b4'], type: 'digest', content: 'new' },
    ]);
    assert.deepEqual(res.body.results.map((r: { status: number; error?: { code: string } }) => [r.status, r.error?.code]), [[409, 'idempotency_conflict'], [202, undefined]]);
  });

  await t.test('a muted recipient is suppressed per item, as in a single publish', async () => {
    const muted = await call(herald, 'PUT', '/v1/preferences', await herald.token('b5'), { muted_types: ['promo'] });
    assert.equal(muted.status, 200);
    const res = await batch(herald, [{ recipients: ['b5', 'b6'], type: 'promo', content: 'sale' }]);
    assert.deepEqual(res.body.results[0].suppressed, ['b5']);
  });
}

for (const store of STORES) {
  test(`batch publish on ${store}`, { timeout: 180_000 }, async (t) => {
    await batchCases(t, await heraldOn(store, t, {}));
  });
}

test('a batch refused as a whole answers 400 (too many items or recipients, none, not a list) or 403 (no publish scope)', async (t) => {
  // At most 12 items, and 10 × 2 = 20 recipients in all.
  const herald = await heraldOn('sqlite', t, { HERALD_MAX_BATCH: '12', HERALD_MAX_RECIPIENTS: '2' });
  const item = { recipients: ['w1'], type: 'digest', content: 'x' };
  await t.test('more items than HERALD_MAX_BATCH is 400 invalid_request naming the limit', async () => {
    const res = await batch(herald, Array.from({ length: 13 }, () => item));
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_request');
    assert.match(res.body.error.message, /At most 12 notifications per batch/);
  });
  await t.test('items naming more than 10 × HERALD_MAX_RECIPIENTS recipients in all are 400 invalid_request, and none is stored', async () => {
    const res = await batch(herald, Array.from({ length: 11 }, (_, i) => ({ ...item, recipients: ['w2', `w3-${i}`] })));
    assert.deepEqual([res.status, res.body.error.code], [400, 'invalid_request']);
    assert.match(res.body.error.message, /22 recipients in all; at most 20/);
    const inbox = await call(herald, 'GET', '/v1/notifications', await herald.token('w2'));
    assert.deepEqual(inbox.body.items, []);
  });
  await t.test('an empty list is 400 invalid_request', async () => {
    const res = await batch(herald, []);
    assert.deepEqual([res.status, res.body.error.code], [400, 'invalid_request']);
  });
  await t.test('a body without a notifications list is 400 invalid_request', async () => {
    const res = await call(herald, 'POST', '/v1/notifications/batch', await herald.token('p', { scope: 'publish' }), item);
    assert.deepEqual([res.status, res.body.error.code], [400, 'invalid_request']);
  });
  await t.test('an item naming its publisher fails alone with 400', async () => {
    const res = await batch(herald, [{ ...item, publisher: 'someone-else' }, item]);
    assert.deepEqual(res.body.results.map((r: { status: number }) => r.status), [400, 202]);
  });
  await t.test('a token without the publish scope is 403 insufficient_scope', async () => {
    const res = await batch(herald, [item], await herald.token('w1', { scope: 'subscribe' }));
    assert.deepEqual([res.status, res.body.error.code], [403, 'insufficient_scope']);
  });
});
