import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentIds } from '../src/recent-ids.js';

test('an id added twice is reported as a repeat the second time', () => {
  const ids = new RecentIds(10);
  assert.equal(ids.add('n1'), true);
  assert.equal(ids.add('n1'), false);
});

test('past its limit the oldest id is forgotten and the newer ones are kept', () => {
  const ids = new RecentIds(2);
  ids.add('n1');
  ids.add('n2');
  ids.add('n3');
  assert.equal(ids.size, 2);
  assert.equal(ids.add('n2'), false, 'n2 is still remembered');
  assert.equal(ids.add('n3'), false, 'n3 is still remembered');
  assert.equal(ids.add('n1'), true, 'n1 was forgotten');
});

test('a limit below one still remembers the last id', () => {
  const ids = new RecentIds(0);
  ids.add('n1');
  assert.equal(ids.add('n1'), false);
});
