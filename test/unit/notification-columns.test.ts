// The notification row's columns, listed once (src/store/rows.ts), and the rows that share a publish's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NOTIFICATION_COLUMNS, publishValues, rowValues, runsOfPublish, type StoredNotification } from '../../src/store/rows.js';

function row(id: string, content = 'c'): StoredNotification {
  return {
    id, topic: `user:${id}`, seq: 1, recipient: id, type: 't', title: null, content, data: null,
    publisher: 'svc', created_at: '2026-01-01T00:00:00.000Z', critical: 0, expires_at: null,
  };
}

test('every column of the notifications table but pk is listed once', () => {
  const names = NOTIFICATION_COLUMNS.map((c) => c.name);
  assert.deepEqual([...names].sort(), Object.keys(row('a')).sort());
  assert.equal(new Set(names).size, names.length);
});

test('a row\'s values split into its own columns and its publish\'s, in list order', () => {
  assert.deepEqual(rowValues(row('a')), ['a', 'user:a', 1, 'a']);
  assert.deepEqual(publishValues(row('a')), ['t', null, 'c', null, 'svc', '2026-01-01T00:00:00.000Z', 0, null]);
});

test('consecutive rows with the same publish columns form one run, order kept', () => {
  const runs = runsOfPublish([row('a'), row('b'), row('c', 'other'), row('d')]);
  assert.deepEqual(runs.map((run) => run.map((r) => r.id)), [['a', 'b'], ['c'], ['d']]);
});

test('no rows form no runs', () => {
  assert.deepEqual(runsOfPublish([]), []);
});
