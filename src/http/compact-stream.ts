import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

// What a stream that lives for hours keeps of its request once its head is sent, given back
// by reaching into Node's and Fastify's internals (like detach-stream.ts beside it). Each
// change is guarded: on a version where a name differs, only that saving is lost.

/** Node's symbol for a response's header map, looked up on the first stream. */
let outHeaders: symbol | null | undefined;

/**
 * Stands in for every sent head's text: after the head is on the wire Node only asks
 * whether there is one (`headersSent`, and `end()` not writing a second head).
 */
const SENT_HEAD = 'HTTP/1.1 200 OK\r\n\r\n';
const NO_RAW_HEADERS: string[] = Object.freeze([]) as unknown as string[];
const NO_HEADERS: IncomingHttpHeaders = Object.freeze({});

/**
 * Once the head is on the wire, a stream never reads its own or the request's headers
 * again, yet Node keeps them for the connection's whole life: the map the response's
 * headers were set in (~500 bytes), the head's text (~250 bytes), the request's raw header
 * list and the map built from it (~1 KB of strings: the token alone is ~150 bytes), and
 * the peer's address object. They go back to shared empty values. The response's map is
 * found by its symbol's name: if a Node version names it otherwise, only that saving is lost.
 */
export function compactSentHead(req: IncomingMessage, res: ServerResponse): void {
  if (outHeaders === undefined) outHeaders = Object.getOwnPropertySymbols(res).find((s) => s.description === 'kOutHeaders') ?? null;
  if (outHeaders !== null) (res as unknown as Record<symbol, unknown>)[outHeaders] = null;
  const sent = res as unknown as { _header?: unknown; _headerSent?: boolean };
  if (sent._headerSent === true && typeof sent._header === 'string') sent._header = SENT_HEAD;
  req.rawHeaders = NO_RAW_HEADERS;
  req.headers = NO_HEADERS;
  // Node reads the address again from the handle if it is asked after this.
  (req.socket as unknown as { _peername?: unknown })._peername = undefined;
}

/**
 * A stream lives for hours, and Fastify's response listener keeps the request, the reply
 * and the request's child logger alive until the response ends: a large share of an idle
 * stream's memory. The stream is hijacked and logs its own open and close, so let it go.
 * Only Fastify's own listener goes: Node's (keep-alive bookkeeping) must stay.
 */
export function releaseRequestState(res: ServerResponse, listeners: Record<'finish' | 'error', unknown[]>): void {
  for (const event of ['finish', 'error'] as const) {
    for (const listener of listeners[event]) {
      if ((listener as { name?: string }).name === 'onResFinished') res.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
}
