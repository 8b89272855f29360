// A stream's connection leaves Node's HTTP machinery once its head is written
// (src/http/detach-stream.ts): what the server did for it, the stream now does itself.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { startCore, type CoreHerald } from './harness.js';

/** The server's side of the next connection accepted. */
function nextServerSocket(herald: CoreHerald): Promise<Socket> {
  return new Promise((resolve) => herald.app.server.once('connection', resolve));
}

/** A raw client: sends the stream request and collects what comes back. */
function rawStream(herald: CoreHerald, token: string, allowHalfOpen = false): { socket: Socket; received(): string; closed: Promise<void> } {
  const socket = connect({ port: Number(new URL(herald.url).port), host: '127.0.0.1', allowHalfOpen });
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(`GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  return { socket, received: () => text, closed };
}

test('an open stream holds no parser or response, still delivers, and counts as open until its client leaves', async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const accepted = nextServerSocket(herald);
  const stream = await openStream(herald.url, await herald.token('alice'));
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  const server = await accepted;
  const internals = server as unknown as { parser: unknown; _httpMessage: unknown };
  assert.equal(internals.parser, null);
  assert.equal(internals._httpMessage, null);
  assert.equal(await herald.metric('herald_stream_connections'), 1);

  await herald.publish({ recipients: ['alice'], type: 'n', content: 'through the socket' });
  const [event] = await stream.waitForEvents('notification', 1);
  assert.equal(event?.data.content, 'through the socket');

  stream.close();
  await waitFor(async () => (await herald.metric('herald_stream_connections')) === 0, 'the stream to count as closed');
  assert.equal(await herald.metric('herald_stream_closed_total', 'reason="client"'), 1);
});

test('a client that half-closes its side has its stream ended', { timeout: 20_000 }, async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const client = rawStream(herald, await herald.token('alice'));
  t.after(() => client.socket.destroy());
  await waitFor(() => client.received().includes('event: ready'), 'ready');
  client.socket.end();
  await client.closed;
  await waitFor(() => herald.hub.size === 0, 'the session to close');
});

test('closing the server closes a stream whose client stays connected', { timeout: 20_000 }, async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const client = rawStream(herald, await herald.token('alice'));
  t.after(() => client.socket.destroy());
  await waitFor(() => client.received().includes('event: ready'), 'ready');
  // The server alone, before the hub ends any stream: it must not wait for this client.
  await herald.app.close();
  await client.closed;
});

test('a stream the server ends lets its connection go once the last bytes are sent', { timeout: 20_000 }, async (t) => {
  const herald = await startCore();
  t.after(() => herald.close());
  const accepted = nextServerSocket(herald);
  // The client keeps its own side open after the server's end: the server's side must still close.
  const client = rawStream(herald, await herald.token('alice'), true);
  t.after(() => client.socket.destroy());
  const server = await accepted;
  const serverClosed = new Promise((resolve) => server.once('close', resolve));
  await waitFor(() => client.received().includes('event: ready'), 'ready');
  await herald.hub.drain(0);
  await serverClosed;
  assert.match(client.received(), /retry: \d+\n\n$/);
});
