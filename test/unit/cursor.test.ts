import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CursorFormat, hash32, MAX_CURSOR_CHARS } from '../../src/sse/cursor.js';

const alice = { user: 'alice', topics: ['user:alice', 'broadcast', 'group:ops', 'group:dev-team'] };

test('a cursor round-trips the user, broadcast and group sequences and its check', () => {
  const format = new CursorFormat('k3f9a2', alice);
  const seqs = new Map([['user:alice', 17], ['broadcast', 4], ['group:ops', 2], ['group:dev-team', 0]]);
  const cursor = format.encode(seqs, 123456);
  assert.equal(cursor, `k3f9a2.17.4.k${(123456).toString(36)}.ops:2.dev-team:0`);
  const decoded = format.decode(cursor);
  assert.ok(decoded);
  assert.equal(decoded.epoch, 'k3f9a2');
  assert.equal(decoded.check, 123456);
  assert.equal(decoded.foreign, false);
  assert.deepEqual([...decoded.seqs].sort(), [...seqs].sort());
});

test('a cursor is bound to the user reading it, not to the one who wrote it', () => {
  const decoded = new CursorFormat('abc', { user: 'bob', topics: ['user:bob', 'broadcast'] }).decode('abc.5.1');
  assert.deepEqual(decoded?.seqs.get('user:bob'), 5);
  assert.equal(decoded?.seqs.has('user:alice'), false);
});

test('a cursor of the older form (no check, full group names) is still read', () => {
  const decoded = new CursorFormat('abc', alice).decode('abc.5.1.ops:3');
  assert.equal(decoded?.check, null);
  assert.equal(decoded?.seqs.get('group:ops'), 3);
});

test('a cursor naming a group the reader no longer follows is marked foreign', () => {
  const decoded = new CursorFormat('abc', alice).decode('abc.5.1.k0.gone:3');
  assert.equal(decoded?.foreign, true);
});

test('100 groups with 64-character names give a cursor well under the limit, and it round-trips', () => {
  const groups = Array.from({ length: 100 }, (_, i) => `group:${String(i).padStart(3, '0')}${'x'.repeat(61)}`);
  const audience = { user: 'carol', topics: ['user:carol', 'broadcast', ...groups] };
  const format = new CursorFormat('abc', audience);
  const seqs = new Map(groups.map((g, i) => [g, 100_000 + i]));
  const cursor = format.encode(seqs, hash32('x'));
  assert.ok(cursor.length < MAX_CURSOR_CHARS / 2, `cursor is ${cursor.length} chars`);
  const decoded = format.decode(cursor);
  assert.equal(decoded?.foreign, false);
  for (const [topic, seq] of seqs) assert.equal(decoded?.seqs.get(topic), seq, topic);
});

const malformed = ['', 'abc', 'abc.1', 'abc.-1.0', 'abc.1.0.', 'ABC!.1.0', 'abc.1e3.0', 'abc.1.0.ops', 'abc.1.0.op s:1',
  'abc.1.0.ops:1:2', 'abc.9999999999999999.0', 'abc.1\0.0', 'abc.1.0\n', `abc.1.0${'.g:1'.repeat(2000)}`];
for (const bad of malformed) {
  test(`malformed cursor ${JSON.stringify(bad.slice(0, 40))} decodes to null`, () => {
    assert.equal(new CursorFormat('abc', alice).decode(bad), null);
  });
}
