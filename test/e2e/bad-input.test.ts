import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';

interface Case {
  name: string;
  method: string;
  path: string;
  token?: 'user' | 'publisher' | 'none' | 'garbage';
  headers?: Record<string, string>;
  body?: string;
  status: number;
  code: string;
}

const ok = { recipients: ['alice'], type: 'alert', content: 'hello' };
const json = (v: unknown) => JSON.stringify(v);

const cases: Case[] = [
  { name: 'no token on the inbox', method: 'GET', path: '/v1/notifications', token: 'none', status: 401, code: 'invalid_token' },
  { name: 'garbage token on the stream', method: 'GET', path: '/v1/stream', token: 'garbage', status: 401, code: 'invalid_token' },
  { name: 'subscribe token cannot publish', method: 'POST', path: '/v1/notifications', token: 'user', body: json(ok), status: 403, code: 'insufficient_scope' },
  { name: 'publish body is not JSON', method: 'POST', path: '/v1/notifications', body: '{"recipients":', status: 400, code: 'invalid_request' },
  { name: 'publish body is empty', method: 'POST', path: '/v1/notifications', body: '', status: 400, code: 'invalid_request' },
  { name: 'publish body is an array', method: 'POST', path: '/v1/notifications', body: '[]', status: 400, code: 'invalid_request' },
  { name: 'publish with an unknown field', method: 'POST', path: '/v1/notifications', body: json({ ...ok, colour: 'red' }), status: 400, code: 'invalid_request' },
  { name: 'publish without content', method: 'POST', path: '/v1/notifications', body: json({ recipients: ['a'], type: 'alert' }), status: 400, code: 'invalid_request' },
  { name: 'publish with a bad type', method: 'POST', path: '/v1/notifications', body: json({ ...ok, type: 'Alert!' }), status: 400, code: 'invalid_request' },
  { name: 'publish with recipients and topic', method: 'POST', path: '/v1/notifications', body: json({ ...ok, topic: 'broadcast' }), status: 400, code: 'invalid_request' },
  { name: 'publish with neither recipients nor topic', method: 'POST', path: '/v1/notifications', body: json({ type: 'alert', content: 'x' }), status: 400, code: 'invalid_request' },
  { name: 'publish to a user: topic', method: 'POST', path: '/v1/notifications', body: json({ topic: 'user:bob', type: 'alert', content: 'x' }), status: 400, code: 'invalid_request' },
  { name: 'publish with empty recipients', method: 'POST', path: '/v1/notifications', body: json({ ...ok, recipients: [] }), status: 400, code: 'invalid_request' },
  { name: 'publish with 1001 recipients', method: 'POST', path: '/v1/notifications', body: json({ ...ok, recipients: Array.from({ length: 1001 }, (_, i) => `u${i}`) }), status: 400, code: 'invalid_request' },
  { name: 'publish with data as an array', method: 'POST', path: '/v1/notifications', body: json({ ...ok, data: [1, 2] }), status: 400, code: 'invalid_request' },
  { name: 'publish with content over 64 KiB', method: 'POST', path: '/v1/notifications', body: json({ ...ok, content: 'x'.repeat(65 * 1024) }), status: 413, code: 'payload_too_large' },
  { name: 'publish with data over 16 KiB', method: 'POST', path: '/v1/notifications', body: json({ ...ok, data: { blob: 'x'.repeat(17 * 1024) } }), status: 413, code: 'payload_too_large' },
  { name: 'publish body over 1 MiB', method: 'POST', path: '/v1/notifications', body: json({ ...ok, content: 'x'.repeat(1024 * 1024 + 10) }), status: 413, code: 'payload_too_large' },
  { name: 'publish as text/plain', method: 'POST', path: '/v1/notifications', headers: { 'content-type': 'text/plain' }, body: json(ok), status: 415, code: 'unsupported_media_type' },
  { name: 'inbox with an unknown parameter', method: 'GET', path: '/v1/notifications?sort=asc', token: 'user', status: 400, code: 'invalid_request' },
  { name: 'inbox with limit 0', method: 'GET', path: '/v1/notifications?limit=0', token: 'user', status: 400, code: 'invalid_request' },
  { name: 'inbox with limit 101', method: 'GET', path: '/v1/notifications?limit=101', token: 'user', status: 400, code: 'invalid_request' },
  { name: 'inbox with a bad status', method: 'GET', path: '/v1/notifications?status=new', token: 'user', status: 400, code: 'invalid_request' },
  { name: 'inbox with a forged cursor', method: 'GET', path: '/v1/notifications?cursor=bm90LWEtY3Vyc29y', token: 'user', status: 400, code: 'invalid_cursor' },
  { name: 'patch an unknown notification', method: 'PATCH', path: '/v1/notifications/nope', token: 'user', body: json({ status: 'read' }), status: 404, code: 'not_found' },
  { name: 'patch with an empty body object', method: 'PATCH', path: '/v1/notifications/nope', token: 'user', body: '{}', status: 400, code: 'invalid_request' },
  { name: 'patch with a bad status', method: 'PATCH', path: '/v1/notifications/nope', token: 'user', body: json({ status: 'done' }), status: 400, code: 'invalid_request' },
  { name: 'read-all with an unknown field', method: 'POST', path: '/v1/notifications/read-all', token: 'user', body: json({ everything: true }), status: 400, code: 'invalid_request' },
  { name: 'stream with an unknown parameter', method: 'GET', path: '/v1/stream?x=1', token: 'user', status: 400, code: 'invalid_request' },
  { name: 'unknown route', method: 'GET', path: '/v1/nothing-here', token: 'user', status: 404, code: 'not_found' },
];

async function send(herald: HeraldProcess, c: Case): Promise<Response> {
  const headers: Record<string, string> = { ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}), ...c.headers };
  const role = c.token ?? 'publisher';
  if (role === 'user') headers.authorization = `Bearer ${await herald.token('alice', { scope: 'subscribe' })}`;
  if (role === 'publisher') headers.authorization = `Bearer ${await herald.token('app', { scope: 'publish subscribe' })}`;
  if (role === 'garbage') headers.authorization = 'Bearer not.a.jwt';
  return fetch(`${herald.url}${c.path}`, { method: c.method, headers, body: c.body });
}

describe('every bad input gets its precise status and a JSON error with a stable code', () => {
  let herald: HeraldProcess;
  before(async () => {
    herald = await startHerald();
  });
  after(() => herald.stop());

  for (const c of cases) {
    test(`${c.name}: ${c.status} ${c.code}`, async () => {
      const res = await send(herald, c);
      const body = await res.json() as { error: { code: string; message: string } };
      assert.equal(res.status, c.status);
      assert.equal(body.error.code, c.code);
      assert.ok(body.error.message.length > 0);
      if (c.status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    });
  }

  test('after every bad input the process still serves and publishes', async () => {
    // Sends them all itself, so it holds whichever of the tests above ran before it.
    for (const c of cases) await (await send(herald, c)).arrayBuffer();
    assert.equal((await fetch(`${herald.url}/healthz`)).status, 200);
    assert.equal((await herald.publish(ok)).status, 202);
  });
});

test('the same idempotency key replays the original answer; another body is a 409', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const body = { recipients: ['alice', 'bob'], type: 'alert', content: 'once', data: { a: 1, b: 2 }, idempotency_key: 'order-77' };
  const first = await herald.publish(body);
  assert.equal(first.status, 202);
  const again = await herald.publish({ ...body, data: { b: 2, a: 1 } });
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, first.body, 'same ids, nothing new stored');
  const conflict = await herald.publish({ ...body, content: 'twice' });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.error.code, 'idempotency_conflict');
  // The key belongs to its publisher: another publisher may use the same key.
  const other = await herald.publish(body, await herald.token('other-app', { scope: 'publish' }));
  assert.equal(other.status, 202);
  assert.notDeepEqual(other.body.notifications.map((n: { id: string }) => n.id), first.body.notifications.map((n: { id: string }) => n.id));
  const alice = await herald.token('alice');
  const inbox = await (await fetch(`${herald.url}/v1/notifications`, { headers: { authorization: `Bearer ${alice}` } })).json();
  assert.equal(inbox.items.length, 2);
});
