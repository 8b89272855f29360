// NotificationStore.publishBatch on every backend: one transaction for all the items, one
// outcome per item in order, each item's idempotency key its own.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HeraldError } from '../../src/errors.js';
import { toPublishRequest } from '../../src/ingest/publish-request.js';
import type { NotificationStore, Outcome, PublishResult } from '../../src/store/store.js';
import { backends, type Backend } from './backends.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };

function request(body: Record<string, unknown>, publisher = 'app') {
  return toPublishRequest({ type: 'digest', content: 'hello', ...body }, publisher, LIMITS);
}

function publishTransactions(store: NotificationStore): number {
  return (store as unknown as { publishTransactions: number }).publishTransactions;
}

function stored(outcome: Outcome<PublishResult> | undefined): PublishResult {
  assert.ok(outcome?.ok, `expected a stored item, got ${outcome && !outcome.ok ? String(outcome.error) : 'nothing'}`);
  return outcome.value;
}

function failedWith(outcome: Outcome<PublishResult> | undefined, code: string): void {
  assert.ok(outcome && !outcome.ok && outcome.error instanceof HeraldError && outcome.error.code === code, `expected ${code}, got ${JSON.stringify(outcome)}`);
}

for (const backend of backends) {
  describe(`NotificationStore.publishBatch on ${backend.name}`, () => {
    test('a batch of 300 publishes commits in one transaction and answers each in request order', async (t) => {
      const store = await backend.open(t);
      const before = publishTransactions(store);
      const outcomes = await store.publishBatch(Array.from({ length: 300 }, (_, i) => request({ recipients: [`u${i % 7}`], content: `item ${i}` })));
      assert.equal(publishTransactions(store) - before, 1);
      assert.deepEqual(outcomes.map((o) => stored(o).events[0]?.notification.content), Array.from({ length: 300 }, (_, i) => `item ${i}`));
      assert.deepEqual((await store.eventsAfter('user:u0', 0, 100)).map((e) => e.seq), Array.from({ length: 43 }, (_, i) => i + 1));
    });

    test('an item whose idempotency key was used with another body fails alone; the others are stored', async (t) => {
      const store = await backend.open(t);
      await store.publish(request({ recipients: ['alice'], idempotency_key: 'k1' }));
      const outcomes = await store.publishBatch([
        request({ recipients: ['alice'], content: 'first' }),
        request({ recipients: ['alice'], idempotency_key: 'k1', content: 'not what k1 stored' }),
        request({ recipients: ['alice'], content: 'third' }),
      ]);
      failedWith(outcomes[1], 'idempotency_conflict');
      assert.deepEqual([stored(outcomes[0]), stored(outcomes[2])].map((r) => r.events[0]?.seq), [2, 3]);
    });

    test('an item repeating a key committed before replays its first answer and stores nothing', async (t) => {
      const store = await backend.open(t);
      const first = await store.publish(request({ recipients: ['alice'], idempotency_key: 'k1' }));
      const [again] = await store.publishBatch([request({ recipients: ['alice'], idempotency_key: 'k1' })]);
      assert.equal(stored(again).replayed, true);
      assert.deepEqual(stored(again).events, first.events);
      assert.equal((await store.heads(['user:alice'])).get('user:alice'), 1);
    });

    test('two items of one batch with the same key and body store one notification; the second replays it', async (t) => {
      const store = await backend.open(t);
      const [a, b] = await store.publishBatch([
        request({ recipients: ['alice'], idempotency_key: 'once' }),
        request({ recipients: ['alice'], idempotency_key: 'once' }),
      ]);
      assert.equal(stored(b).replayed, true);
      assert.deepEqual(stored(b).events, stored(a).events);
      assert.equal((await store.eventsAfter('user:alice', 0, 10)).length, 1);
    });

    test('items of one type leave out, each, only their own recipients who muted it', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('bob', ['digest']);
      const outcomes = await store.publishBatch([
        request({ recipients: ['alice', 'bob'] }),
        request({ recipients: ['carol'] }),
        request({ recipients: ['bob', 'dave'], type: 'alert' }),
      ]);
      assert.deepEqual(outcomes.map((o) => stored(o).suppressed), [['bob'], [], []]);
      assert.deepEqual(outcomes.map((o) => stored(o).events.map((e) => e.notification.recipient)), [['alice'], ['carol'], ['bob', 'dave']]);
    });

    test('a scheduled item is held for later while the batch\'s other items are delivered now', async (t) => {
      const store = await backend.open(t);
      const deliverAt = new Date(Date.now() + 3_600_000).toISOString();
      const [later, now] = await store.publishBatch([
        request({ recipients: ['alice'], deliver_at: deliverAt, content: 'later' }),
        request({ recipients: ['alice'], content: 'now' }),
      ]);
      assert.deepEqual(stored(later).scheduled?.map((s) => s.notification.content), ['later']);
      assert.deepEqual((await store.eventsAfter('user:alice', 0, 10)).map((e) => e.notification.content), ['now']);
      assert.equal(stored(now).events[0]?.seq, 1);
    });
  });
}

test('PostgreSQL: a batch item whose text PostgreSQL refuses fails alone with invalid_request; the other items are stored', async (t) => {
  const store = await (backends.find((b) => b.name === 'postgres') as Backend).open(t);
  const outcomes = await store.publishBatch([
    request({ recipients: ['alice'], content: 'before' }),
    request({ recipients: ['alice'], content: 'nul \0 inside' }),
    request({ recipients: ['alice'], content: 'after' }),
  ]);
  failedWith(outcomes[1], 'invalid_request');
  assert.deepEqual((await store.eventsAfter('user:alice', 0, 10)).map((e) => e.notification.content), ['before', 'after']);
});
