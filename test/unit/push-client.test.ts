// Herald's client for push services: the origin guard runs before every request, so an
// endpoint that fails it is never even connected to; no redirect is followed; a push
// service that does not answer is given up on after the timeout.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { EndpointRefused, PushClient, parseRetryAfter } from '../../src/push/push-client.js';

async function listen(t: TestContext, handler: Parameters<typeof createServer>[1]): Promise<{ origin: string; connections: () => number }> {
  let connections = 0;
  const server: Server = createServer(handler);
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

function client(t: TestContext, allowedOrigins: string[], timeoutMs = 2000): PushClient {
  const c = new PushClient({ timeoutMs, maxSockets: 4, allowedOrigins });
  t.after(() => c.close());
  return c;
}

test('an endpoint outside the allowed origins is refused without a connection', async (t) => {
  const service = await listen(t, (_req, res) => res.writeHead(201).end());
  await assert.rejects(client(t, []).send({ endpoint: `${service.origin}/push/1`, headers: {}, body: null }), EndpointRefused);
  assert.equal(service.connections(), 0);
});

test('an allowed endpoint gets the POST and its answer is read', async (t) => {
  const service = await listen(t, (req, res) => res.writeHead(req.method === 'POST' ? 429 : 400, { 'retry-after': '7' }).end());
  assert.deepEqual(await client(t, [service.origin]).send({ endpoint: `${service.origin}/push/1`, headers: { TTL: 60 }, body: Buffer.from('x') }), { status: 429, retryAfterMs: 7000 });
});

test('a redirect is not followed: its status is the answer', async (t) => {
  let followed = false;
  const service = await listen(t, (req, res) => {
    if (req.url === '/elsewhere') followed = true;
    res.writeHead(307, { location: '/elsewhere' }).end();
  });
  assert.equal((await client(t, [service.origin]).send({ endpoint: `${service.origin}/push/1`, headers: {}, body: null })).status, 307);
  assert.equal(followed, false);
});

test('a push service that never answers is given up on after the timeout', async (t) => {
  const service = await listen(t, () => {});
  const started = Date.now();
  await assert.rejects(client(t, [service.origin], 300).send({ endpoint: `${service.origin}/push/1`, headers: {}, body: null }));
  assert.ok(Date.now() - started < 3000);
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter('Mon, 01 Jun 2026 12:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('soon', now), null);
  assert.equal(parseRetryAfter(undefined, now), null);
});
