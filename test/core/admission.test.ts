// Who gets a stream slot, and when: tickets, limits, clients that leave early.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { gate, overrideStore, startCore } from './harness.js';

test('a ticket refused by a full node (503) is still good for a stream once there is room', async (t) => {
  const herald = await startCore({ env: { HERALD_MAX_CONNECTIONS: '1' } });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const first = await openStream(herald.url, token);
  await first.waitForEvents('ready', 1);
  const { body: { ticket } } = await herald.request('POST', '/v1/stream/tickets', token);

  const refused = await fetch(`${herald.url}/v1/stream?ticket=${encodeURIComponent(ticket)}`);
  assert.equal(refused.status, 503);
  await refused.body?.cancel();

  first.close();
  await waitFor(() => herald.hub.size === 0, 'the first stream to close');
  const admitted = await openStream(herald.url, null, { query: `ticket=${encodeURIComponent(ticket)}` });
  t.after(() => admitted.close());
  assert.equal(admitted.status, 200);
  await admitted.waitForEvents('ready', 1);
});

test('a ticket still opens one stream only: the second use is 401', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const { body: { ticket } } = await herald.request('POST', '/v1/stream/tickets', token);
  const once = await fetch(`${herald.url}/v1/stream?ticket=${encodeURIComponent(ticket)}`);
  assert.equal(once.status, 200);
  t.after(() => once.body?.cancel());
  const twice = await fetch(`${herald.url}/v1/stream?ticket=${encodeURIComponent(ticket)}`);
  assert.equal(twice.status, 401);
  await twice.body?.cancel();
});

test('a client that leaves while its ticket is being redeemed leaves no stream behind', async (t) => {
  const redeeming = gate();
  const release = gate();
  const herald = await startCore({
    env: { HERALD_MAX_CONNECTIONS_PER_USER: '1' },
    wrapStore: (store) => overrideStore(store, {
      async redeemOnce(jti, until) {
        redeeming.open();
        await release.promise;
        return store.redeemOnce(jti, until);
      },
    }),
  });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const { body: { ticket } } = await herald.request('POST', '/v1/stream/tickets', token);

  const url = new URL(`${herald.url}/v1/stream?ticket=${encodeURIComponent(ticket)}`);
  const req = httpRequest(url);
  req.on('error', () => {});
  req.end();
  await redeeming.promise;
  req.destroy();
  await waitFor(() => herald.hub.size === 0, 'the server to notice the client left');
  release.open();
  // Let the handler finish its redemption (promise callbacks run before the next macrotask).
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(herald.hub.size, 0);

  const next = await openStream(herald.url, token);
  t.after(() => next.close());
  assert.equal(next.status, 200, 'the user still has their one slot');
});

test('the per-user cap answers 429 with Retry-After and frees the slot when a stream closes', async (t) => {
  const herald = await startCore({ env: { HERALD_MAX_CONNECTIONS_PER_USER: '1' } });
  t.after(() => herald.close());
  const token = await herald.token('alice');
  const first = await openStream(herald.url, token);
  await first.waitForEvents('ready', 1);
  const second = await fetch(`${herald.url}/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(second.status, 429);
  assert.ok(Number(second.headers.get('retry-after')) > 0);
  await second.body?.cancel();
  first.close();
  await waitFor(() => herald.hub.size === 0, 'the slot to free');
  const third = await openStream(herald.url, token);
  t.after(() => third.close());
  assert.equal(third.status, 200);
});

test('the stream authenticates before it looks at its query: no token and a bad parameter is 401', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const anonymous = await fetch(`${herald.url}/v1/stream?bogus=1`);
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  const token = await herald.token('alice');
  const known = await fetch(`${herald.url}/v1/stream?bogus=1`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(known.status, 400);
  assert.equal(((await known.json()) as { error: { code: string } }).error.code, 'invalid_request');
  assert.equal(herald.hub.size, 0);
});
