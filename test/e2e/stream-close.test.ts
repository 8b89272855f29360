// A stream Herald closes (token expired, maximum age) while its reader has stopped reading
// and megabytes wait unsent: the connection must not stay open forever. `ss` shows the
// server side of the connection, which is what holds the memory.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

/** Whether the server's side of the connection from `client` (its local port) is still established. */
function serverSideOpen(serverPort: number, client: Socket): boolean {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${serverPort} and dport = :${client.localPort} )`], { encoding: 'utf8' });
  return out.trim() !== '';
}

/** Opens a stream on a raw socket that reads the head, then stops reading for good. */
async function stalledReader(port: number, token: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let head = '';
  await new Promise<void>((resolve) => {
    socket.on('data', function onData(chunk: Buffer) {
      head += chunk.toString('latin1');
      if (!head.includes('event: ready')) return;
      socket.off('data', onData);
      socket.pause();
      resolve();
    });
    socket.write(`GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  });
  return socket;
}

test('a stream closed at token expiry while its reader stopped reading, with 18 MB unsent, is dropped after the close grace', async (t) => {
  const herald = await startHerald({ env: {
    HERALD_STREAM_BUFFER_BYTES: String(64 * 1024 * 1024), HERALD_STREAM_CLOSE_GRACE_MS: '500', HERALD_PUBLISH_RATE_PER_MINUTE: '100000',
  } });
  t.after(() => herald.stop());
  const reader = await stalledReader(herald.port, await herald.token('slow', { scope: 'subscribe', ttlS: 8 }));
  t.after(() => reader.destroy());
  assert.equal(serverSideOpen(herald.port, reader), true);
  const content = 'x'.repeat(60_000);
  for (let i = 0; i < 300; i++) assert.equal((await herald.publish({ recipients: ['slow'], type: 'bulk', content })).status, 202);
  // 18 MB: more than loopback's socket buffers hold. The token expires 8 s after it was
  // minted; the grace is 500 ms.
  await waitFor(() => !serverSideOpen(herald.port, reader), 'the server to drop the connection', 15_000, 100);
});

test('a reader that keeps up gets a burst of 24 concurrent 60 KiB publishes whole: the slow-reader bound counts what the socket could not send, not what one turn queued', async (t) => {
  const herald = await startHerald({ env: { HERALD_PUBLISH_RATE_PER_MINUTE: '100000' } });
  t.after(() => herald.stop());
  const stream = await openStream(herald.url, await herald.token('fast', { scope: 'subscribe' }));
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  const content = 'z'.repeat(60 * 1024);
  const answers = await Promise.all(Array.from({ length: 24 }, () => herald.publish({ recipients: ['fast'], type: 'bulk', content })));
  assert.deepEqual(answers.map((a) => a.status), Array(24).fill(202));
  await stream.waitForEvents('notification', 24, 20_000);
  assert.equal(stream.isEnded(), false, 'not cut as a slow reader');
});
