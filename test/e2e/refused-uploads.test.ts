// A request refused before its body is read (413 for a body over the limit, 401 without a
// token, a body on a route that takes none) is answered with `Connection: close` while the
// client may still be sending. These tests send like fetch does, the body right behind the
// head and without waiting, on a raw socket that keeps writing after the server's FIN, and
// check that the client reads the answer and finishes its body without a reset.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';

interface Upload {
  socket: Socket;
  /** Everything the server sent, as latin1 text. */
  answer: () => string;
  /** Bytes of the body written so far. */
  sent: () => number;
  /** The socket's error code, if it had one (EPIPE, ECONNRESET: the server reset the connection). */
  error: () => string | null;
  /** Resolves once the socket is closed. */
  closed: Promise<void>;
  /** True once the server's FIN arrived. */
  ended: () => boolean;
}

const CHUNK = Buffer.alloc(64 * 1024, 'x');

/**
 * Writes `head`, then `bodyBytes` bytes as fast as the socket takes them (every `pauseMs`
 * between chunks when given), then ends its side. A body of Infinity is never finished.
 */
function upload(port: number, head: string, bodyBytes: number, pauseMs = 0, chunk = CHUNK): Upload {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  let answer = '';
  let sent = 0;
  let error: string | null = null;
  let ended = false;
  socket.on('data', (data: Buffer) => { answer += data.toString('latin1'); });
  socket.on('end', () => { ended = true; });
  socket.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message; });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const pump = (): void => {
    while (sent < bodyBytes && !socket.destroyed) {
      const piece = bodyBytes - sent >= chunk.length ? chunk : chunk.subarray(0, bodyBytes - sent);
      sent += piece.length;
      const more = socket.write(piece);
      if (pauseMs > 0) {
        setTimeout(pump, pauseMs);
        return;
      }
      if (!more) {
        socket.once('drain', pump);
        return;
      }
    }
    if (!socket.destroyed) socket.end();
  };
  socket.write(head);
  pump();
  return { socket, answer: () => answer, sent: () => sent, error: () => error, closed, ended: () => ended };
}

function statusLine(answer: string): string {
  return answer.split('\r\n')[0] ?? '';
}

function errorCode(answer: string): string | undefined {
  const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  return (JSON.parse(body) as { error: { code: string } }).error.code;
}

/** Sends `bytes` of body behind `head` and checks that the whole body went out, without a reset, and the answer. */
async function assertAnsweredWithoutReset(port: number, head: string, bytes: number, status: number, code: string): Promise<void> {
  const up = upload(port, head, bytes);
  await up.closed;
  assert.equal(up.error(), null, `the connection was reset after ${up.sent()} bytes; answer: ${statusLine(up.answer())}`);
  assert.equal(up.sent(), bytes);
  assert.match(statusLine(up.answer()), new RegExp(`^HTTP/1\\.1 ${status} `));
  assert.equal(errorCode(up.answer()), code);
}

describe('a request refused before its body is read', () => {
  let herald: HeraldProcess;
  let port: number;
  before(async () => {
    herald = await startHerald();
    port = Number(new URL(herald.url).port);
  });
  after(() => herald.stop());

  test('a publish announcing 4 MiB (over the 1 MiB limit) is answered 413, and the client sends its whole body without a reset', async () => {
    const token = await herald.token('app', { scope: 'publish' });
    const bytes = 4 * 1024 * 1024;
    await assertAnsweredWithoutReset(port, `POST /v1/notifications HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`, bytes, 413, 'payload_too_large');
  });

  test('a session request with no token and a 2 MiB body is answered 401, and the client sends its whole body without a reset', async () => {
    const bytes = 2 * 1024 * 1024;
    await assertAnsweredWithoutReset(port, `POST /v1/session HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`, bytes, 401, 'invalid_token');
  });

  test('a GET of the inbox with a 2 MiB body is answered 413 body_not_allowed, and the client sends its whole body without a reset', async () => {
    const token = await herald.token('alice', { scope: 'subscribe' });
    const bytes = 2 * 1024 * 1024;
    await assertAnsweredWithoutReset(port, `GET /v1/notifications HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${bytes}\r\n\r\n`, bytes, 413, 'body_not_allowed');
  });

  test('a client that never stops sending after a 413 is disconnected: the server stops reading within its bound', async () => {
    const token = await herald.token('app', { scope: 'publish' });
    const bytes = 1024 * 1024 * 1024;
    const up = upload(port, `POST /v1/notifications HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`, Infinity, 20, Buffer.alloc(1024, 'x'));
    await waitFor(() => statusLine(up.answer()).startsWith('HTTP/1.1 413 '), () => `the 413 (so far: ${JSON.stringify(up.answer())})`);
    // The bound is a few seconds; the wait only keeps a broken server from hanging the test.
    await waitFor(() => up.socket.destroyed || up.error() !== null, 'the server to stop reading', 30_000, 50);
    up.socket.destroy();
    assert.ok(up.sent() < bytes);
  });
});
