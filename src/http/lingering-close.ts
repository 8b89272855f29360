// Lingering close, as nginx does it. Herald refuses some requests from their head alone: 413
// for a body announced over HERALD_MAX_BODY_BYTES, 401 before a body is read, a body on a route
// that takes none. Those answers say `Connection: close`, and Node then destroyed the socket
// as soon as the answer was written, while the client could still be sending its body (fetch
// and most clients send it right behind the head). Closing a socket with unread bytes makes
// the kernel answer with a reset: the client's next write fails with EPIPE or ECONNRESET, and a
// reset that arrives before the client read the answer discards it. The client then sees
// "fetch failed" instead of the 413 or 401 that says what to fix.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How long a closing connection keeps reading (and dropping) what the client still sends. A
 * client on a fast link finishes a body of a few MiB well inside it; a client that keeps
 * sending is cut at the bound, so a refused upload holds a socket for this long at most.
 */
export const LINGER_MS = 3000;

/**
 * Replaces each connection's `destroySoon`, which Node's HTTP server calls once an answer that
 * closes the connection is written: the server sends its FIN after the answer (as before), then
 * reads and drops the client's bytes until the client closes its side, and closes at the
 * latest after `lingerMs`. A client that closes at once (the usual case: it read the answer
 * and `Connection: close`) costs nothing more than before.
 */
export function lingerBeforeClosing(server: Server, lingerMs = LINGER_MS): void {
  function lingeringClose(this: Socket): void {
    closeAfterLingering(this, lingerMs);
  }
  server.on('connection', (socket: Socket) => {
    socket.destroySoon = lingeringClose;
  });
}

function closeAfterLingering(socket: Socket, lingerMs: number): void {
  if (socket.writable) socket.end();
  if (socket.destroyed) return;
  const bound = setTimeout(() => socket.destroy(), lingerMs);
  socket.once('close', () => clearTimeout(bound));
  const closeAfterAnswer = (): void => {
    if (socket.writableFinished) socket.destroy();
    else socket.once('finish', () => socket.destroy());
  };
  if (socket.readableEnded) closeAfterAnswer();
  else {
    socket.once('end', closeAfterAnswer);
    // Node may have paused reading while the answer was written; read on to drop the rest.
    socket.resume();
  }
}
