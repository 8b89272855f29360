// RFC 3339 times in requests: what is accepted, what is refused with invalid_time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRfc3339 } from '../../src/domain/times.js';
import { HeraldError } from '../../src/errors.js';

function refused(value: unknown): boolean {
  try {
    parseRfc3339(value, 'deliver_at');
    return false;
  } catch (err) {
    return err instanceof HeraldError && err.code === 'invalid_time' && err.message.startsWith('deliver_at ');
  }
}

test('a UTC time with Z parses to its instant', () => {
  assert.equal(parseRfc3339('2026-12-01T09:00:00Z', 'x'), Date.UTC(2026, 11, 1, 9));
});

test('an offset is applied: +01:00 is an hour before the same wall time in UTC', () => {
  assert.equal(parseRfc3339('2026-12-01T10:00:00+01:00', 'x'), Date.UTC(2026, 11, 1, 9));
});

test('lowercase t and z and fractional seconds are RFC 3339 too', () => {
  assert.equal(parseRfc3339('2026-12-01t09:00:00.250z', 'x'), Date.UTC(2026, 11, 1, 9, 0, 0, 250));
});

test('29 February of a leap year is accepted', () => {
  assert.equal(parseRfc3339('2028-02-29T00:00:00Z', 'x'), Date.UTC(2028, 1, 29));
});

test('29 February of another year is refused', () => {
  assert.ok(refused('2027-02-29T00:00:00Z'));
});

test('a day the month does not have is refused, not rolled over into the next month', () => {
  assert.ok(refused('2026-04-31T00:00:00Z'));
});

test('a time without an offset is refused (its instant would depend on the server)', () => {
  assert.ok(refused('2026-12-01T09:00:00'));
});

test('a date alone is refused', () => {
  assert.ok(refused('2026-12-01'));
});

test('hour 24 is refused', () => {
  assert.ok(refused('2026-12-01T24:00:00Z'));
});

test('minute 60 is refused', () => {
  assert.ok(refused('2026-12-01T23:60:00Z'));
});

test('a number is refused with the same code as a malformed string', () => {
  assert.ok(refused(1_800_000_000_000));
});
