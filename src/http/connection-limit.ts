// HERALD_MAX_CONNECTIONS_PER_ADDRESS: one address may hold only so many connections that are
// not streams. Without it, one client could open sockets until the node ran out of file
// descriptors, each costing a parser and buffers, each held up to HERALD_REQUEST_TIMEOUT_MS
// by a trickled request and for as long as it keeps sending requests on it. Streams have
// their own bounds (per user, per address, in total: src/sse/hub.ts).
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { cidrMatcher } from './ip-allow-list.js';

export interface ConnectionLimitOptions {
  /** Connections other than streams one address may hold; 0 = no bound. */
  maxPerAddress: number;
  /** HERALD_TRUST_PROXY: peers whose connections carry many clients, and are not bounded. */
  trustProxy: readonly string[];
  metrics: Pick<Metrics, 'connectionsRefused'>;
  log: Pick<Logger, 'warn'>;
}

/** The sockets one address holds, as counted. */
interface AddressEntry {
  readonly address: string;
  readonly sockets: Set<Socket>;
}

/** At most one warning per address per minute: a client hammering the bound must not flood the log. */
const LOG_EVERY_MS = 60_000;

/**
 * Counts each address's sockets from the server's 'connection' event to their 'close'. A
 * connection over the bound is destroyed as it is accepted, without an answer: a 503 would
 * first have to read the request (the client may not have sent it yet, and closing a socket
 * with unread bytes resets it, so the answer is lost anyway), which is the holding this bound
 * exists to stop; and destroying costs nothing per refused socket when one address opens
 * thousands. Node's own `server.maxConnections` refuses the same way. Clients (browsers, the
 * SDK) retry a reset connection.
 *
 * Connections from a trusted proxy (HERALD_TRUST_PROXY) are not counted: every client behind
 * it arrives from the proxy's address, so a bound there would be a bound on all of them
 * together; per-client connection limits belong at the proxy (nginx `limit_conn`).
 *
 * A stream, once its socket is detached from the HTTP server (src/http/detach-stream.ts: its
 * parser is gone), is no longer counted; it is dropped from the count the first time its
 * address reaches the bound, so nothing runs per stream. A stream that could not be detached
 * still counts.
 */
export function limitConnectionsPerAddress(server: Server, options: ConnectionLimitOptions): void {
  const { maxPerAddress: max, metrics, log } = options;
  if (max === 0) return;
  const isTrustedProxy = options.trustProxy.length === 0 ? () => false : cidrMatcher(options.trustProxy);
  const byAddress = new Map<string, AddressEntry>();
  const entryOf = new WeakMap<Socket, AddressEntry>();
  /** When each address was last warned about, and how many refusals since went unlogged. */
  const lastWarned = new Map<string, { at: number; refused: number }>();

  function forget(socket: Socket): void {
    const entry = entryOf.get(socket);
    if (entry === undefined) return;
    entryOf.delete(socket);
    socket.removeListener('close', onClose);
    entry.sockets.delete(socket);
    if (entry.sockets.size === 0 && byAddress.get(entry.address) === entry) byAddress.delete(entry.address);
  }
  function onClose(this: Socket): void {
    forget(this);
  }
  /** Stops counting sockets that became streams: Node's server no longer parses them. */
  function dropDetached(entry: AddressEntry): void {
    for (const socket of entry.sockets) {
      // O(bound), and only when the address is at its bound: a stream is dropped once.
      if ((socket as { parser?: unknown }).parser == null && !socket.destroyed) forget(socket);
    }
  }
  function warn(address: string): void {
    const now = Date.now();
    const last = lastWarned.get(address);
    if (last !== undefined && now - last.at < LOG_EVERY_MS) {
      last.refused++;
      return;
    }
    if (lastWarned.size >= 1024) {
      for (const [known, seen] of lastWarned) if (now - seen.at >= LOG_EVERY_MS) lastWarned.delete(known);
    }
    lastWarned.set(address, { at: now, refused: 0 });
    // The refusals from this address the previous minute's line did not report.
    log.warn({ client: { address }, unloggedRefusals: last?.refused ?? 0 },
      `refused connections from ${address}: it already holds ${max} connections other than streams (HERALD_MAX_CONNECTIONS_PER_ADDRESS). `
      + 'If it is a proxy, list it in HERALD_TRUST_PROXY; if many clients share it (a NAT), raise the bound. Logged at most once a minute per address.');
  }

  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || isTrustedProxy(address)) return;
    const entry = byAddress.get(address) ?? { address, sockets: new Set<Socket>() };
    if (entry.sockets.size >= max) dropDetached(entry);
    if (entry.sockets.size >= max) {
      socket.destroy();
      metrics.connectionsRefused.inc();
      warn(address);
      return;
    }
    // A new entry, or one dropDetached just emptied (and so took out of the map).
    if (entry.sockets.size === 0) byAddress.set(address, entry);
    entry.sockets.add(socket);
    entryOf.set(socket, entry);
    socket.on('close', onClose);
  });
}
