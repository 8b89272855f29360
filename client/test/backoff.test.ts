import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, parseRetryAfter } from '../src/backoff.js';

test('full jitter: attempt n draws from [0, min * 2^n), capped at the maximum', () => {
  const low = new Backoff({ minDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
  const high = new Backoff({ minDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
  assert.deepEqual(
    Array.from({ length: 6 }, () => low.next()),
    [0, 0, 0, 0, 0, 0],
  );
  assert.deepEqual(
    Array.from({ length: 6 }, () => high.next()),
    [99, 199, 399, 799, 999, 999],
  );
});

test('every delay stays inside its bounds for many random draws', () => {
  const backoff = new Backoff({ minDelayMs: 50, maxDelayMs: 3000 });
  for (let n = 0; n < 200; n += 1) {
    const { low, high } = backoff.bounds(backoff.attempt);
    const delay = backoff.next();
    assert.ok(delay >= low && delay <= high, `attempt ${n}: ${delay} outside [${low}, ${high}]`);
    assert.ok(delay <= 3000);
  }
  assert.deepEqual(backoff.bounds(10_000), { low: 0, high: 3000 });
});

test('the server retry hint is the floor and the base', () => {
  const backoff = new Backoff({ minDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5 });
  backoff.setRetryHint(2000);
  assert.deepEqual(backoff.bounds(0), { low: 2000, high: 2000 });
  assert.deepEqual(backoff.bounds(1), { low: 2000, high: 4000 });
  assert.deepEqual(backoff.bounds(3), { low: 2000, high: 10_000 });
  assert.equal(backoff.next(), 2000);
  assert.equal(backoff.next(), 3000);
});

test('a hint above the maximum is clamped to the maximum', () => {
  const backoff = new Backoff({ minDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 });
  backoff.setRetryHint(99_999_999);
  assert.equal(backoff.next(), 1000);
});

test('reset after a stable connection starts the schedule again', () => {
  const backoff = new Backoff({ minDelayMs: 100, maxDelayMs: 100_000, random: () => 0.999999 });
  backoff.next();
  backoff.next();
  assert.equal(backoff.next(), 399);
  backoff.reset();
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.next(), 99);
});

test('Retry-After is read as seconds or as an HTTP date; junk is ignored', () => {
  const now = Date.parse('2026-11-26T15:00:00Z');
  assert.equal(parseRetryAfter('3', now), 3000);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('Thu, 26 Nov 2026 15:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Thu, 26 Nov 2026 14:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter('-1', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});
