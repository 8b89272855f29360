// The push sender's decisions (README.md, "Web Push"): `auto` pushes only what the recipient has not
// read, seen, archived or snoozed, and only when no node had a stream of theirs open
// during the delay; `always` skips only the gone, expired or muted. A push service's
// answers, retries and the TTL left.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answerMeans, remainingTtlS, retryDelayMs, skipReason, type DecisionInput } from '../../src/push/push-policy.js';
import type { Notification } from '../../src/store/store.js';

const NOW = '2026-06-01T12:00:10.000Z';
const QUEUED = '2026-06-01T12:00:00.000Z';

function notification(overrides: Partial<Notification> = {}): Notification {
  return {
    id: 'n1', recipient: 'alice', topic: null, type: 'alert', title: null, content: 'x', data: null, status: 'unread', seen_at: null, read_at: null,
    archived_at: null, created_at: QUEUED, expires_at: null, snoozed_until: null, ...overrides,
  };
}

function input(overrides: Partial<DecisionInput> = {}, n: Partial<Notification> = {}, critical = false): DecisionInput {
  return { policy: 'auto', queuedAt: QUEUED, pushed: { notification: notification(n), critical }, muted: false, presentUntil: undefined, seenHere: false, subscriptions: 1, now: NOW, ...overrides };
}

test('an unread, unseen notification of a user no node saw is pushed', () => {
  assert.equal(skipReason(input()), null);
});

test('a notification read during the delay is not pushed', () => {
  assert.equal(skipReason(input({}, { read_at: '2026-06-01T12:00:05.000Z' })), 'read');
});

test('a notification seen during the delay is not pushed', () => {
  assert.equal(skipReason(input({}, { seen_at: '2026-06-01T12:00:05.000Z' })), 'seen');
});

test('a notification archived during the delay is not pushed', () => {
  assert.equal(skipReason(input({}, { archived_at: '2026-06-01T12:00:05.000Z' })), 'archived');
});

test('a notification snoozed until later is not pushed', () => {
  assert.equal(skipReason(input({}, { snoozed_until: '2026-06-02T00:00:00.000Z' })), 'snoozed');
});

test('a user some node recorded with a stream open after the push was queued is not pushed', () => {
  assert.equal(skipReason(input({ presentUntil: '2026-06-01T12:00:03.000Z' })), 'present');
});

test('a user whose stream closed before the push was queued is pushed', () => {
  assert.equal(skipReason(input({ presentUntil: '2026-06-01T11:59:59.000Z' })), null);
});

test('a user this node saw but has not recorded yet is not pushed', () => {
  assert.equal(skipReason(input({ seenHere: true })), 'present');
});

test('always pushes whether the user looks or not', () => {
  assert.equal(skipReason(input({ policy: 'always', seenHere: true, presentUntil: NOW }, { seen_at: NOW })), null);
});

test('a muted type is not pushed, even with always', () => {
  assert.equal(skipReason(input({ policy: 'always', muted: true })), 'muted');
});

test('a critical notification of a muted type is pushed', () => {
  assert.equal(skipReason(input({ muted: true }, {}, true)), null);
});

test('an expired notification is not pushed', () => {
  assert.equal(skipReason(input({ policy: 'always' }, { expires_at: NOW })), 'expired');
});

test('a notification retention deleted is not pushed', () => {
  assert.equal(skipReason(input({ pushed: undefined })), 'gone');
});

test('a user without a subscription left is not pushed', () => {
  assert.equal(skipReason(input({ subscriptions: 0 })), 'no_subscription');
});

test('201 and 202 mean sent', () => {
  assert.equal(answerMeans(201), 'sent');
  assert.equal(answerMeans(202), 'sent');
});

test('404 and 410 mean the subscription is gone', () => {
  assert.equal(answerMeans(404), 'gone');
  assert.equal(answerMeans(410), 'gone');
});

test('429, 5xx and no answer are tried again', () => {
  for (const status of [429, 500, 502, 503, null]) assert.equal(answerMeans(status), 'retry', String(status));
});

test('other answers (400, 401, 403, 413, 3xx) drop the push', () => {
  for (const status of [400, 401, 403, 413, 301]) assert.equal(answerMeans(status), 'dropped', String(status));
});

test('a Retry-After is honoured as given', () => {
  assert.equal(retryDelayMs(5, 30_000), 30_000);
});

test('without Retry-After the wait doubles per attempt, jittered between half and all of it, up to 10 minutes', () => {
  assert.equal(retryDelayMs(0, null, () => 0), 500);
  assert.equal(retryDelayMs(0, null, () => 1), 1000);
  assert.equal(retryDelayMs(3, null, () => 1), 8000);
  assert.equal(retryDelayMs(30, null, () => 1), 600_000);
});

test('the TTL sent is what is left of HERALD_PUSH_TTL_S since the first try', () => {
  const first = Date.parse(QUEUED);
  assert.equal(remainingTtlS(first, 86400, null, first), 86400);
  assert.equal(remainingTtlS(first, 86400, null, first + 3600_000), 82800);
  assert.equal(remainingTtlS(first, 86400, null, first + 86400_001), null);
});

test('the TTL never reaches past the notification\'s expiry', () => {
  const first = Date.parse(QUEUED);
  assert.equal(remainingTtlS(first, 86400, '2026-06-01T12:01:00.000Z', first), 60);
  assert.equal(remainingTtlS(first, 86400, '2026-06-01T12:01:00.000Z', first + 60_000), null);
});

test('a TTL of 0 is sent once, as "now or never"', () => {
  const first = Date.parse(QUEUED);
  assert.equal(remainingTtlS(first, 0, null, first), 0);
  assert.equal(remainingTtlS(first, 0, null, first + 1), null);
});
