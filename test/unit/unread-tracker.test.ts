import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnreadTracker } from '../../src/sse/unread-tracker.js';

const snapshot = (unread: number, heads: Record<string, number>) => ({ unread, heads: new Map(Object.entries(heads)) });

test('events beyond the snapshot head add to the count; events at or below it do not', () => {
  const t = new UnreadTracker(snapshot(3, { 'user:a': 10, broadcast: 2 }));
  t.onEvent('user:a', 9);
  t.onEvent('user:a', 10);
  assert.equal(t.unread, 3);
  t.onEvent('user:a', 11);
  t.onEvent('broadcast', 3);
  t.onEvent('user:a', 11);
  assert.equal(t.unread, 5);
});

test('a newer snapshot replaces the count and absorbs events it already counted', () => {
  const t = new UnreadTracker(snapshot(0, { 'user:a': 0 }));
  t.onSnapshot(snapshot(1, { 'user:a': 2 })); // marked one read after two arrived in the store
  t.onEvent('user:a', 1);
  t.onEvent('user:a', 2);
  assert.equal(t.unread, 1);
});

test('an older snapshot keeps events this node counted after it', () => {
  const t = new UnreadTracker(snapshot(0, { 'user:a': 0 }));
  t.onEvent('user:a', 1);
  t.onEvent('user:a', 2);
  t.onEvent('user:a', 3);
  t.onSnapshot(snapshot(0, { 'user:a': 1 })); // read-all at head 1, delivered later than 2 and 3
  assert.equal(t.unread, 2);
});

test('a hidden position moves the counted head without counting it', () => {
  const t = new UnreadTracker(snapshot(1, { broadcast: 4 }));
  t.onHidden('broadcast', 5);
  t.onEvent('broadcast', 6);
  assert.equal(t.unread, 2);
});

test('an older snapshot keeps counted events after it but not the hidden ones', () => {
  const t = new UnreadTracker(snapshot(0, { broadcast: 4 }));
  t.onEvent('broadcast', 5);
  t.onHidden('broadcast', 6);
  t.onHidden('broadcast', 7);
  t.onEvent('broadcast', 8);
  // The store's count at head 4 (one read meanwhile): 5 and 8 are still unread, 6 and 7 hidden.
  t.onSnapshot(snapshot(0, { broadcast: 4 }));
  assert.equal(t.unread, 2);
});

test('hidden positions a snapshot covers are forgotten', () => {
  const t = new UnreadTracker(snapshot(0, { broadcast: 4 }));
  t.onHidden('broadcast', 6);
  t.onSnapshot(snapshot(0, { broadcast: 6 }));
  t.onEvent('broadcast', 7);
  t.onSnapshot(snapshot(0, { broadcast: 6 }));
  assert.equal(t.unread, 1);
});
