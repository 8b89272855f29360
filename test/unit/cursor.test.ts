import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCursor, encodeCursor } from '../../src/sse/cursor.js';

test('a cursor round-trips the user, broadcast and group sequences', () => {
  const seqs = new Map([['user:alice', 17], ['broadcast', 4], ['group:ops', 2], ['group:dev-team', 0]]);
  const cursor = encodeCursor('k3f9a2', 'alice', seqs);
  assert.equal(cursor, 'k3f9a2.17.4.ops:2.dev-team:0');
  const decoded = decodeCursor(cursor, 'alice');
  assert.ok(decoded);
  assert.equal(decoded.epoch, 'k3f9a2');
  assert.deepEqual([...decoded.seqs].sort(), [...seqs].sort());
});

test('a cursor is bound to the user reading it, not to the one who wrote it', () => {
  const decoded = decodeCursor('abc.5.1', 'bob');
  assert.deepEqual(decoded?.seqs.get('user:bob'), 5);
  assert.equal(decoded?.seqs.has('user:alice'), false);
});

test('malformed cursors decode to null', () => {
  for (const bad of ['', 'abc', 'abc.1', 'abc.-1.0', 'abc.1.0.', 'ABC!.1.0', 'abc.1e3.0', 'abc.1.0.ops', 'abc.1.0.op s:1',
    'abc.1.0.ops:1:2', 'abc.9999999999999999.0', 'abc.1\0.0', 'abc.1.0\n', `abc.1.0${'.g:1'.repeat(2000)}`]) {
    assert.equal(decodeCursor(bad, 'alice'), null, JSON.stringify(bad));
  }
});
