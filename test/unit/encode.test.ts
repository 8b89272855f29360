import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeComment, encodeData, encodeEvent, notificationEventHead, notificationEventTail, UnsafeFieldError } from '../../src/sse/encode.js';

test('an event is written as its exact wire bytes, blank line last', () => {
  assert.equal(encodeEvent({ event: 'ready', id: 'a.1.0', data: '{"x":1}' }), 'event: ready\nid: a.1.0\ndata: {"x":1}\n\n');
  assert.equal(encodeEvent({ retry: 1500 }), 'retry: 1500\n\n');
});

test('data is split on CRLF, LF and lone CR so no payload can start a new field', () => {
  assert.equal(encodeData('a\r\nb\nc\rd'), 'data: a\ndata: b\ndata: c\ndata: d\n');
  assert.equal(encodeData('x\n\nevent: evil'), 'data: x\ndata: \ndata: event: evil\n');
  assert.equal(encodeData(''), 'data: \n');
});

test('event names and ids with CR, LF or NUL are refused, never cleaned', () => {
  for (const bad of ['a\nb', 'a\rb', 'a\0b', '\r\n']) {
    assert.throws(() => encodeEvent({ event: bad, data: 'x' }), UnsafeFieldError);
    assert.throws(() => encodeEvent({ id: bad, data: 'x' }), UnsafeFieldError);
  }
});

test('an empty id is never written (it would reset the client cursor)', () => {
  assert.equal(encodeEvent({ event: 'x', id: '', data: 'y' }), 'event: x\ndata: y\n\n');
});

test('retry must be a non-negative integer', () => {
  assert.throws(() => encodeEvent({ retry: -1 }), UnsafeFieldError);
  assert.throws(() => encodeEvent({ retry: 1.5 }), UnsafeFieldError);
});

test('comments cannot break out of their line', () => {
  assert.equal(encodeComment('hb'), ': hb\n\n');
  assert.equal(encodeComment('a\r\nb'), ': a b\n\n');
});

test('a notification event is one shared head plus a per-reader tail that closes the JSON', () => {
  const head = notificationEventHead('notification', { id: 'n1', content: 'line1\r\nline2' });
  const bytes = head + notificationEventTail(7, 'e.3.0');
  assert.equal(bytes, 'event: notification\ndata: {"id":"n1","content":"line1\\r\\nline2","unread_count":7}\nid: e.3.0\n\n');
  const data = bytes.split('\n')[1]?.slice('data: '.length) ?? '';
  assert.deepEqual(JSON.parse(data), { id: 'n1', content: 'line1\r\nline2', unread_count: 7 });
});
