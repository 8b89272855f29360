import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

/**
 * A stream's connection, once its head is written, is only ever written to: it will never
 * carry another request. Node's HTTP server still keeps, for each connection, a parser
 * (with a native buffer), the request and response objects, a state object and about ten
 * listeners bound to them: ~2.5 KB of an idle stream's ~10 KB. This hands the socket over
 * the way Node itself does for an `upgrade` request: the server's listeners come off, the
 * parser is freed, and the response lets go of the socket; the caller then writes to the
 * socket directly. What the server did for the response it does in its place: a client
 * that half-closes is answered in kind, and an ended stream lets its connection go once
 * the last bytes are sent.
 *
 * The server's listeners are found by their function names (Node 20 to 24 name them
 * alike). When anything is not as expected (a Node version that differs, bytes the
 * response still holds), nothing is changed and the stream keeps writing through the
 * response: only the saving is lost.
 */

/** The listeners Node's HTTP server adds to each connection (bound ones are named 'bound …'). */
const SERVER_LISTENERS = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause'],
] as const;

/** The parts of Node's per-connection HTTP parser this uses (present from Node 20 to 24). */
interface ConnectionParser {
  _consumed?: boolean;
  socket: unknown;
  incoming: unknown;
  outgoing: unknown;
  onIncoming: unknown;
  unconsume(): void;
  remove(): void;
  close(): void;
}

type Listener = (...args: unknown[]) => void;

/**
 * Takes the socket from the response (`req`/`res` must not be used afterwards). Answers
 * null, having changed nothing, when it cannot be done safely.
 */
export function detachStream(req: IncomingMessage, res: ServerResponse): Socket | null {
  const socket = res.socket;
  if (!(socket instanceof Socket) || socket.destroyed || req.socket !== socket) return null;
  const internals = socket as unknown as { parser?: ConnectionParser | null; _httpMessage?: unknown };
  const parser = internals.parser;
  const pending = (res as unknown as { outputData?: unknown[] }).outputData;
  if (!res.headersSent || internals._httpMessage !== res || !parser || !Array.isArray(pending) || pending.length > 0) return null;
  if (typeof parser.unconsume !== 'function' || typeof parser.remove !== 'function' || typeof parser.close !== 'function') return null;
  const found: Array<[string, Listener]> = [];
  for (const [event, name] of SERVER_LISTENERS) {
    const listener = socket.listeners(event).find((fn) => fn.name === name);
    if (listener === undefined) return null;
    found.push([event, listener as Listener]);
  }

  res.detachSocket(socket);
  for (const [event, listener] of found) socket.removeListener(event, listener);
  // What Node's own upgrade path does: the socket's bytes no longer go to the parser, which
  // leaves the server's connection list (so its idle and timeout checks skip this socket).
  if (parser._consumed === true) parser.unconsume();
  parser._consumed = false;
  parser.remove();
  parser.socket = null;
  parser.incoming = null;
  parser.outgoing = null;
  parser.onIncoming = null;
  internals.parser = null;
  // Closed once this turn's stack (which may include the parser's own callback) unwinds.
  setImmediate(() => parser.close());
  // The server wrapped these to notice a 'data' listener while the parser read the socket.
  socket.on = Socket.prototype.on;
  socket.addListener = Socket.prototype.addListener;
  socket.prependListener = Socket.prototype.prependListener;
  // Anything the client still sends (it should send nothing) is read and dropped.
  socket.resume();
  socket.on('end', endToo);
  socket.on('finish', destroyWhenSent);
  return socket;
}

function endToo(this: Socket): void {
  if (this.writable) this.end();
}

function destroyWhenSent(this: Socket): void {
  this.destroy();
}
