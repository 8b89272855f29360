// What a push carries (README.md, "Web Push"): a Declarative Web Push message, at most 3,800 bytes,
// the body cut rather than the JSON.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_PAYLOAD_BYTES, navigateTo, pushPayload, type PayloadInput } from '../../src/push/push-payload.js';

const INBOX = 'https://herald.example.com/';

function input(overrides: Partial<PayloadInput['notification']> = {}): PayloadInput {
  return {
    notification: { id: '0190f0aa-0000-7000-8000-000000000001', type: 'comment.mention', title: 'Ana mentioned you', content: 'Look at this', data: null, ...overrides },
    unreadCount: 3, readToken: 'read.token.value', inboxUrl: INBOX,
  };
}

test('the payload is the declarative message with title, body, navigate, tag, badge and data', () => {
  assert.deepEqual(JSON.parse(pushPayload(input({ data: { url: 'https://app.example.com/c/1' } }))), {
    web_push: 8030,
    notification: {
      title: 'Ana mentioned you', body: 'Look at this', navigate: 'https://app.example.com/c/1', tag: '0190f0aa-0000-7000-8000-000000000001', app_badge: 3,
      data: { id: '0190f0aa-0000-7000-8000-000000000001', type: 'comment.mention', read_token: 'read.token.value' },
    },
  });
});

test('navigate is the inbox page when data.url is not an https URL', () => {
  assert.equal(navigateTo({ url: 'http://app.example.com/c/1' }, INBOX), INBOX);
  assert.equal(navigateTo({ url: 'javascript:alert(1)' }, INBOX), INBOX);
  assert.equal(navigateTo({ url: 42 }, INBOX), INBOX);
  assert.equal(navigateTo(null, INBOX), INBOX);
});

test('a notification without a title gets one: declarative pushes need it', () => {
  assert.equal(JSON.parse(pushPayload(input({ title: null }))).notification.title, 'New notification');
});

test('a long body is cut to fit 3,800 bytes, ending in an ellipsis, and the JSON stays whole', () => {
  const payload = pushPayload(input({ content: 'é'.repeat(5000) }));
  assert.ok(Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES);
  assert.ok(Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES - 10, 'cut no more than needed');
  const body: string = JSON.parse(payload).notification.body;
  assert.match(body, /^é+…$/);
});

test('a body full of characters JSON escapes is cut by its escaped size', () => {
  const payload = pushPayload(input({ content: '\u0001'.repeat(2000) }));
  assert.ok(Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES);
  assert.match(JSON.parse(payload).notification.body, /…$/);
});

test('a data.url too long to leave room for the text gives way to the inbox page', () => {
  const payload = pushPayload(input({ data: { url: `https://app.example.com/${'a'.repeat(4000)}` } }));
  assert.ok(Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES);
  assert.equal(JSON.parse(payload).notification.navigate, INBOX);
});
