// What <herald-inbox> draws from data.actions and data.avatar (the browser tests show it drawn).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { actionsOf, avatarOf } from '../src/element/notification-extras.js';
import type { HeraldNotification } from '../src/types.js';

const PAGE = 'https://app.example.com/dashboard/';

function withData(data: Record<string, unknown> | null): HeraldNotification {
  return {
    id: '1', recipient: 'ann', topic: null, type: 'alert', title: 'Build failed', content: 'main is red', data,
    status: 'unread', seen_at: null, read_at: null, archived_at: null, created_at: '2025-01-01T00:00:00.000Z',
  };
}

test('a url action and an event action are both drawn, in order', () => {
  const actions = actionsOf(withData({ actions: [{ label: 'Open build', url: 'https://ci.example.com/1' }, { label: 'Retry', event: 'retry' }] }), PAGE, null);
  assert.deepEqual(actions, [{ label: 'Open build', href: 'https://ci.example.com/1' }, { label: 'Retry', event: 'retry' }]);
});

test('only the first two entries count', () => {
  const actions = actionsOf(withData({ actions: [{ label: 'a', event: 'a' }, { label: 'b', event: 'b' }, { label: 'c', event: 'c' }] }), PAGE, null);
  assert.deepEqual(actions.map((action) => action.label), ['a', 'b']);
});

test('an action whose url is javascript: is dropped, even with an event beside it', () => {
  assert.deepEqual(actionsOf(withData({ actions: [{ label: 'Run', url: 'javascript:alert(1)', event: 'run' }] }), PAGE, null), []);
});

test('an action whose url is http is dropped', () => {
  assert.deepEqual(actionsOf(withData({ actions: [{ label: 'Open', url: 'http://ci.example.com/1' }] }), PAGE, null), []);
});

test('an action without a label is dropped', () => {
  assert.deepEqual(actionsOf(withData({ actions: [{ url: 'https://ci.example.com/1' }, { label: '  ', event: 'x' }] }), PAGE, null), []);
});

test('an action with neither url nor event is dropped', () => {
  assert.deepEqual(actionsOf(withData({ actions: [{ label: 'Nothing' }] }), PAGE, null), []);
});

test('actions that are not an array draw nothing', () => {
  assert.deepEqual(actionsOf(withData({ actions: { label: 'x', event: 'y' } }), PAGE, null), []);
});

test('an action link outside allowed-origins is dropped', () => {
  assert.deepEqual(actionsOf(withData({ actions: [{ label: 'Open', url: 'https://evil.example/' }] }), PAGE, ['self']), []);
});

test('no data draws no action and no avatar', () => {
  assert.deepEqual(actionsOf(withData(null), PAGE, null), []);
  assert.equal(avatarOf(withData(null), PAGE), undefined);
});

test('an https avatar is drawn', () => {
  assert.equal(avatarOf(withData({ avatar: 'https://cdn.example.com/dana.png' }), PAGE), 'https://cdn.example.com/dana.png');
});

test('a data: avatar is not drawn', () => {
  assert.equal(avatarOf(withData({ avatar: 'data:image/svg+xml,<svg onload=alert(1)>' }), PAGE), undefined);
});

test('an http avatar is not drawn', () => {
  assert.equal(avatarOf(withData({ avatar: 'http://cdn.example.com/dana.png' }), PAGE), undefined);
});
