// The publish transaction's decisions (src/store/publish-plan.ts), without a database.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeraldError } from '../../src/errors.js';
import {
  countByTopic, keyClaims, keyPlans, keyResponse, keyResponses, mutingQuestion, outcomesOf, parseKeyResponse, planPublish, replayIds,
  takeSequences, takenKeys, topicsOf, writtenRows, type KeyPlan,
} from '../../src/store/publish-plan.js';
import type { NotificationRow } from '../../src/store/rows.js';
import type { PublishRequest } from '../../src/store/store.js';

const NOW = '2026-01-02T03:04:05.000Z';

function request(overrides: Partial<PublishRequest> = {}): PublishRequest {
  return {
    publisher: 'svc', idempotencyKey: null, requestHash: '', recipients: ['alice'], topic: null,
    type: 'order.shipped', title: 'Shipped', content: 'Your order shipped', data: null, critical: false, ...overrides,
  };
}

function counter(): () => string {
  let n = 0;
  return () => `id-${++n}`;
}

test('each idempotency key is claimed once, for the first request that has it', () => {
  const requests = [
    request({ idempotencyKey: 'k1', requestHash: 'h1' }),
    request(),
    request({ idempotencyKey: 'k1', requestHash: 'h2' }),
    request({ publisher: 'other', idempotencyKey: 'k1', requestHash: 'h3' }),
  ];
  assert.deepEqual(keyClaims(requests), [
    { publisher: 'svc', key: 'k1', requestHash: 'h1' },
    { publisher: 'other', key: 'k1', requestHash: 'h3' },
  ]);
});

test('the claims this transaction did not take are the ones to read back', () => {
  const claims = [{ publisher: 'svc', key: 'a', requestHash: 'h' }, { publisher: 'svc', key: 'b', requestHash: 'h' }];
  assert.deepEqual(takenKeys(claims, [{ publisher: 'svc', key: 'a' }]), [{ publisher: 'svc', key: 'b' }]);
});

test('a request without a key writes', () => {
  assert.deepEqual(keyPlans([request()], [], []), [{ kind: 'write' }]);
});

test('the request that claimed its key writes', () => {
  assert.deepEqual(keyPlans([request({ idempotencyKey: 'k', requestHash: 'h' })], [{ publisher: 'svc', key: 'k' }], []), [{ kind: 'write' }]);
});

test('a later request of the batch with the same key and body answers what the first wrote', () => {
  const r = request({ idempotencyKey: 'k', requestHash: 'h' });
  assert.deepEqual(keyPlans([r, r], [{ publisher: 'svc', key: 'k' }], []), [{ kind: 'write' }, { kind: 'same', as: 0 }]);
});

test('a later request of the batch with the same key and another body conflicts', () => {
  const plans = keyPlans([request({ idempotencyKey: 'k', requestHash: 'h' }), request({ idempotencyKey: 'k', requestHash: 'other' })], [{ publisher: 'svc', key: 'k' }], []);
  assert.deepEqual(plans, [{ kind: 'write' }, { kind: 'conflict' }]);
});

test('a key committed before with the same body answers its stored response', () => {
  const stored = [{ publisher: 'svc', key: 'k', requestHash: 'h', response: '{"ids":["x"]}' }];
  assert.deepEqual(keyPlans([request({ idempotencyKey: 'k', requestHash: 'h' })], [], stored), [{ kind: 'stored', response: '{"ids":["x"]}' }]);
});

test('a key committed before with another body conflicts', () => {
  const stored = [{ publisher: 'svc', key: 'k', requestHash: 'h', response: '{"ids":[]}' }];
  assert.deepEqual(keyPlans([request({ idempotencyKey: 'k', requestHash: 'other' })], [], stored), [{ kind: 'conflict' }]);
});

test('a key neither claimed nor found is an error, not a write', () => {
  assert.throws(() => keyPlans([request({ idempotencyKey: 'k', requestHash: 'h' })], [], []), /neither claimed nor found/);
});

test('a publish to recipients asks who muted its type and the prefixes that cover it', () => {
  assert.deepEqual(mutingQuestion(request({ recipients: ['alice', 'bob'] })), { users: ['alice', 'bob'], patterns: ['order.shipped', 'order.*'] });
});

test('a critical publish asks nobody about mutes', () => {
  assert.equal(mutingQuestion(request({ critical: true })), null);
});

test('a publish to a shared topic asks nobody about mutes', () => {
  assert.equal(mutingQuestion(request({ recipients: null, topic: 'broadcast' })), null);
});

test('recipients who muted the type get no row and are answered as suppressed', () => {
  const plan = planPublish(request({ recipients: ['alice', 'bob', 'carol'] }), new Set(['bob']), NOW, counter());
  assert.deepEqual(plan.targets, [{ id: 'id-1', topic: 'user:alice', recipient: 'alice' }, { id: 'id-2', topic: 'user:carol', recipient: 'carol' }]);
  assert.deepEqual(plan.suppressed, ['bob']);
});

test('a publish whose every recipient muted the type plans no rows', () => {
  const plan = planPublish(request({ recipients: ['alice'] }), new Set(['alice']), NOW, counter());
  assert.deepEqual(plan.targets, []);
  assert.deepEqual(plan.suppressed, ['alice']);
});

test('a publish to a shared topic plans one row without a recipient', () => {
  const plan = planPublish(request({ recipients: null, topic: 'group:ops' }), new Set(), NOW, counter());
  assert.deepEqual(plan.targets, [{ id: 'id-1', topic: 'group:ops', recipient: null }]);
});

test('a publish stores its data as JSON text, critical as 1 and no expiry as null, created now', () => {
  const plan = planPublish(request({ data: { n: 1 }, critical: true }), new Set(), NOW, counter());
  assert.deepEqual(plan.content, {
    type: 'order.shipped', title: 'Shipped', content: 'Your order shipped', data: '{"n":1}', publisher: 'svc', created_at: NOW, critical: 1, expires_at: null,
  });
  assert.deepEqual(plan.data, { n: 1 });
});

test('topics are counted and listed in name order', () => {
  assert.deepEqual([...countByTopic(['user:b', 'user:a', 'user:b'])], [['user:a', 1], ['user:b', 2]]);
});

test('a topic\'s rows take the numbers below its new head, in the order written', () => {
  assert.deepEqual(takeSequences(['t', 'u', 't'], new Map([['t', 12], ['u', 1]])), [11, 1, 12]);
});

test('the rows of a batch follow its publishes in order, with their sequence numbers', () => {
  const next = counter();
  const publishes = [planPublish(request({ recipients: ['a', 'b'] }), new Set(), NOW, next), null, planPublish(request({ recipients: ['a'] }), new Set(), NOW, next)];
  const topics = topicsOf(publishes);
  assert.deepEqual(topics, ['user:a', 'user:b', 'user:a']);
  const { rows, results } = writtenRows(publishes, takeSequences(topics, new Map([['user:a', 7], ['user:b', 3]])));
  assert.deepEqual(rows.map((r) => [r.id, r.topic, r.seq, r.recipient]), [['id-1', 'user:a', 6, 'a'], ['id-2', 'user:b', 3, 'b'], ['id-3', 'user:a', 7, 'a']]);
  assert.equal(results[1], null);
  assert.deepEqual(results[2]?.events.map((e) => [e.topic, e.seq, e.notification.id]), [['user:a', 7, 'id-3']]);
});

test('a written notification is answered unread, as a reader will read it back', () => {
  const publish = planPublish(request({ data: { n: 1 } }), new Set(), NOW, counter());
  const { results } = writtenRows([publish], [1]);
  assert.deepEqual(results[0]?.events[0]?.notification, {
    id: 'id-1', recipient: 'alice', topic: null, type: 'order.shipped', title: 'Shipped', content: 'Your order shipped', data: { n: 1 },
    status: 'unread', seen_at: null, read_at: null, archived_at: null, created_at: NOW, expires_at: null, snoozed_until: null,
  });
});

test('a key stores only the ids it wrote', () => {
  const requests = [request({ idempotencyKey: 'k', requestHash: 'h' }), request()];
  const { results } = writtenRows([planPublish(requests[0] as PublishRequest, new Set(), NOW, counter()), planPublish(requests[1] as PublishRequest, new Set(), NOW, counter())], [1, 2]);
  assert.deepEqual(keyResponses(requests, results), [{ publisher: 'svc', key: 'k', response: '{"ids":["id-1"]}' }]);
});

test('a scheduled publish\'s key keeps whom it suppressed beside the ids', () => {
  assert.deepEqual(parseKeyResponse(keyResponse(['x'], ['bob'])), { ids: ['x'], events: null, suppressed: ['bob'] });
});

test('a key stored before ids were kept compactly answers its whole events', () => {
  const events = [{ topic: 'user:a', seq: 1, notification: {} }];
  assert.deepEqual(parseKeyResponse(JSON.stringify(events)), { ids: [], events });
});

test('replays read back each stored id once', () => {
  const plans: KeyPlan[] = [{ kind: 'stored', response: '{"ids":["x","y"]}' }, { kind: 'write' }, { kind: 'stored', response: '{"ids":["y"]}' }];
  assert.deepEqual(replayIds(plans), ['x', 'y']);
});

function answered(plan: KeyPlan, rows: NotificationRow[] = []) {
  const { results } = writtenRows([planPublish(request(), new Set(), NOW, counter()), null], [5]);
  return { results, outcome: outcomesOf([{ kind: 'write' }, plan], results, rows)[1] };
}

test('a request that wrote is answered with its events', () => {
  const { results } = writtenRows([planPublish(request(), new Set(), NOW, counter())], [5]);
  assert.deepEqual(outcomesOf([{ kind: 'write' }], results, []), [{ ok: true, value: results[0] }]);
});

test('a conflicting key is answered with idempotency_conflict', () => {
  const { outcome } = answered({ kind: 'conflict' });
  assert.ok(outcome && !outcome.ok && outcome.error instanceof HeraldError && outcome.error.code === 'idempotency_conflict');
});

test('a key first used in the same batch is answered as a replay of that request\'s events', () => {
  const { results, outcome } = answered({ kind: 'same', as: 0 });
  assert.deepEqual(outcome, { ok: true, value: { events: results[0]?.events, replayed: true } });
});

test('a committed key is answered as a replay of its rows read back, a row since deleted left out', () => {
  const row: NotificationRow = {
    pk: 1, id: 'old', topic: 'user:alice', seq: 2, recipient: 'alice', type: 't', title: null, content: 'c', data: null,
    publisher: 'svc', created_at: NOW, critical: 0, expires_at: null,
  };
  const { outcome } = answered({ kind: 'stored', response: '{"ids":["old","gone"]}' }, [row]);
  assert.ok(outcome?.ok);
  assert.deepEqual(outcome.value.events.map((e) => [e.notification.id, e.topic, e.seq]), [['old', 'user:alice', 2]]);
  assert.equal(outcome.value.replayed, true);
});
