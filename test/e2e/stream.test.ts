import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventSource } from 'eventsource';
import { startHerald } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

test('the stream answers SSE headers, a retry hint and ready, then delivers live notifications with unread counts', async (t) => {
  const herald = await startHerald({ env: { HERALD_HEARTBEAT_MS: '200' } });
  t.after(() => herald.stop());
  const alice = await herald.token('alice');
  const stream = await openStream(herald.url, alice);
  t.after(() => stream.close());

  assert.equal(stream.status, 200);
  assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(stream.headers.get('cache-control'), 'no-cache, no-transform');
  assert.equal(stream.headers.get('x-accel-buffering'), 'no');
  assert.equal(stream.headers.get('content-encoding'), null);
  const [ready] = await stream.waitForEvents('ready', 1);
  assert.equal(ready?.data.unread_count, 0);
  assert.equal(ready?.id, ready?.data.cursor);

  const published = await herald.publish({ recipients: ['alice', 'bob'], type: 'comment.mention', title: 'Hi', content: 'You were mentioned', data: { post: 42 } });
  assert.equal(published.status, 202);
  assert.equal(published.body.notifications.length, 2);
  const [first] = await stream.waitForEvents('notification', 1);
  const forAlice = published.body.notifications.find((n: { recipient: string }) => n.recipient === 'alice');
  assert.deepEqual(first?.data, { ...forAlice, unread_count: 1 });
  assert.match(first?.id ?? '', /^[a-z0-9]+\.1\.0\.k[0-9a-z]+$/);

  await herald.publish({ recipients: ['alice'], type: 'alert', content: 'second' });
  const events = await stream.waitForEvents('notification', 2);
  assert.equal(events[1]?.data.unread_count, 2);
  // Bob's notification never reaches Alice's stream.
  assert.ok(events.every((e) => e.data.recipient === 'alice'));
  // Heartbeat comments keep proxies from timing the stream out.
  await waitFor(() => stream.comments.length >= 2, 'two heartbeat comments');
});

test('a real third-party EventSource client receives notifications and resumes with Last-Event-ID', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('carol');
  const received: Array<{ id: string; lastEventId: string }> = [];
  let opens = 0;
  const source = new EventSource(`${herald.url}/v1/stream`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${token}` } }),
  });
  t.after(() => source.close());
  source.addEventListener('open', () => { opens += 1; });
  source.addEventListener('notification', (e) => received.push({ id: JSON.parse(e.data).id, lastEventId: e.lastEventId }));
  await waitFor(() => opens === 1, 'EventSource to open');
  const one = await herald.publish({ recipients: ['carol'], type: 'alert', content: 'one' });
  await waitFor(() => received.length === 1, 'first notification');

  // The server dies; EventSource reconnects by itself with its Last-Event-ID.
  await herald.kill();
  await herald.restart();
  const two = await herald.publish({ recipients: ['carol'], type: 'alert', content: 'two' });
  await waitFor(() => received.length === 2, 'second notification after the restart', 15_000);
  assert.deepEqual(received.map((r) => r.id), [one.body.notifications[0].id, two.body.notifications[0].id]);
  assert.ok(opens >= 2);
});

test('broadcast reaches everyone; group topics reach only members named in the token', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const ops = await openStream(herald.url, await herald.token('olga', { groups: ['ops'] }));
  const dev = await openStream(herald.url, await herald.token('dave', { groups: ['dev'] }));
  t.after(() => { ops.close(); dev.close(); });
  await ops.waitForEvents('ready', 1);
  await dev.waitForEvents('ready', 1);

  assert.equal((await herald.publish({ topic: 'group:ops', type: 'incident', content: 'disk full' })).status, 202);
  assert.equal((await herald.publish({ topic: 'broadcast', type: 'maintenance', content: 'tonight' })).status, 202);
  const opsEvents = await ops.waitForEvents('notification', 2);
  const devEvents = await dev.waitForEvents('notification', 1);
  assert.deepEqual(opsEvents.map((e) => e.data.content), ['disk full', 'tonight']);
  assert.deepEqual(devEvents.map((e) => e.data.content), ['tonight']);
  assert.equal(opsEvents[0]?.data.topic, 'group:ops');
  assert.equal(opsEvents[0]?.data.recipient, null);
  assert.match(opsEvents[1]?.id ?? '', /\.0\.1\.k[0-9a-z]+\.ops:1$/);

  // Read state of a topic notification is per user.
  const dave = await herald.token('dave', { groups: ['dev'] });
  const res = await fetch(`${herald.url}/v1/notifications/${devEvents[0]?.data.id}`, {
    method: 'PATCH', headers: { authorization: `Bearer ${dave}`, 'content-type': 'application/json' }, body: '{"status":"read"}',
  });
  assert.equal(res.status, 200);
  const olga = await herald.token('olga', { groups: ['ops'] });
  const inbox = await (await fetch(`${herald.url}/v1/notifications`, { headers: { authorization: `Bearer ${olga}` } })).json();
  assert.equal(inbox.unread_count, 2);
  assert.ok(inbox.items.every((n: { status: string }) => n.status === 'unread'));
  await dev.waitForEvents('notification.updated', 1);
  assert.equal(dev.of('notification.updated')[0]?.data.unread_count, 0);
});

test('a stream closes with auth-expired when its token expires', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const stream = await openStream(herald.url, await herald.token('erin', { ttlS: 2 }));
  await stream.waitForEvents('ready', 1);
  await stream.ended;
  assert.deepEqual(stream.events.map((e) => e.event), ['ready', 'auth-expired']);
});

test('the per-user stream cap answers 429 with Retry-After and a JSON error', async (t) => {
  const herald = await startHerald({ env: { HERALD_MAX_CONNECTIONS_PER_USER: '2' } });
  t.after(() => herald.stop());
  const token = await herald.token('frank');
  const a = await openStream(herald.url, token);
  const b = await openStream(herald.url, token);
  t.after(() => { a.close(); b.close(); });
  const c = await openStream(herald.url, token);
  assert.equal(c.status, 429);
  assert.ok(Number(c.headers.get('retry-after')) > 0);
  assert.equal(c.events[0]?.data.error.code, 'too_many_connections');
  assert.equal(await herald.metric('herald_stream_rejected_total{code="too_many_connections"}'), 1);
  a.close();
  await waitFor(async () => (await herald.connections()) === 1, 'the closed stream to be released');
  const d = await openStream(herald.url, token);
  t.after(() => d.close());
  assert.equal(d.status, 200);
});

test('SIGTERM drains: streams end with a retry hint spread over the window, then the process exits 0', async (t) => {
  const herald = await startHerald({ env: { HERALD_DRAIN_MS: '600' } });
  t.after(() => herald.stop());
  // Eight streams: enough that hints drawn at random cannot all land close together by chance
  // (eight draws within 100 ms of each other in a 1000 ms window: about 1 in a million).
  const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8'];
  const streams = await Promise.all(users.map(async (u) => openStream(herald.url, await herald.token(u))));
  await Promise.all(streams.map((s) => s.waitForEvents('ready', 1)));
  const exitCode = herald.kill('SIGTERM');
  await Promise.all(streams.map((s) => s.ended));
  assert.equal(await exitCode, 0);
  // Each stream got the opening hint and a closing one.
  for (const s of streams) assert.equal(s.retries.length, 2, `retry hints: ${JSON.stringify(s.retries)}`);
  const closing = streams.map((s) => s.retries[1] as number);
  // The closing hints are spread over [500, 500 + max(1000, window)] ms, so clients come back
  // over a second rather than all at once.
  for (const hint of closing) assert.ok(hint >= 500 && hint <= 1500, `closing hint ${hint} ms outside [500, 1500]`);
  assert.ok(Math.max(...closing) - Math.min(...closing) >= 100, `closing hints not spread: ${JSON.stringify(closing)}`);
  assert.ok(herald.logs.some((l) => l.includes('"message":"draining"')));
  assert.ok(herald.logs.some((l) => l.includes('"message":"stopped"')));
});
