import { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { UpdatePayload } from '../bus/bus.js';
import type { MuteMatcher } from '../domain/preferences.js';
import type { Audience, NotificationStore, TopicEvent } from '../store/store.js';
import type { Clock } from '../domain/clock.js';
import { CursorFormat, hash32 } from './cursor.js';
import { encodeComment, encodeEvent, notificationEventHead, notificationEventTail } from './encode.js';
import { TopicPositions } from './topic-positions.js';
import type { UnreadTracker } from './unread-tracker.js';

export const CLOSE_REASONS = ['client', 'slow_consumer', 'token_expired', 'max_age', 'drain', 'reset', 'refused', 'error'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** A notification event ready to write: the shared head bytes plus where it sits. */
export interface EncodedEvent {
  topic: string;
  seq: number;
  /** hash32 of the notification id, folded into the reader's cursor check. */
  idHash: number;
  head: Buffer;
  /** When the notification was accepted (ms since epoch), for the latency histogram. */
  acceptedAt: number;
  /** The type, when a reader's mutes apply (a topic notification, not critical); else null. */
  mutableType: string | null;
  /** Shown to no reader (it expired before this node sent it), yet it moves every cursor, as a muted one does. */
  hidden: boolean;
}

/**
 * One user's muted types, shared by all their streams on this node (the hub replaces the
 * fields when they change). `matcher` is null when nothing is muted: the fan-out's only cost.
 */
export interface MuteState {
  matcher: MuteMatcher | null;
  types: readonly string[];
}

/** Before the hub gives a session its user's state: one shared value, not one per stream. */
const NO_MUTES: MuteState = Object.freeze({ matcher: null, types: Object.freeze([]) });

/** An update held until `ready`: an inbox change, or a change of preferences. */
type HeldUpdate = UpdatePayload | 'preferences';

/** Where a stream starts on one topic: the last sequence the client has, and that event's id. */
export interface StartPosition {
  seq: number;
  /** The notification id at `seq`, null when seq is 0. */
  id: string | null;
}

/** What every stream of a node shares: one object, not a copy per stream. */
export interface SessionDeps {
  /** Bytes the socket may hold unsent before the session is cut. */
  bufferLimit: number;
  /** How long an ended stream's unsent bytes may take to leave before the connection is dropped (ms). */
  closeGraceMs: number;
  store: NotificationStore;
  clock: Clock;
  onClose(session: StreamSession, reason: CloseReason): void;
  /** Counts events sent from the store (resume or gap fill) rather than live. */
  onReplayed(count: number): void;
}

export interface SessionOptions {
  id: string;
  audience: Audience;
  audienceKey: string;
  ip: string;
  epoch: string;
  /** When the token expires (ms since epoch). */
  expiresAt: number;
  /** Close at this time for the maximum stream age (ms since epoch), or Infinity. */
  maxAgeAt: number;
  deps: SessionDeps;
}

/** Rows read per store query, by a replay and by the hub's gap fill. */
export const STORE_PAGE = 500;

/**
 * Live events a session holds while a replay runs (or before it starts) before it is cut
 * as a slow consumer; it resumes by cursor. A reader whose replay never ends would
 * otherwise hold every event of its topics in memory.
 */
export const MAX_HELD_EVENTS = 10_000;

/** A reconnect hint (`retry:`) spread over `spreadMs`, so clients never return all at once. */
export function retryHintMs(spreadMs: number): number {
  return Math.floor(500 + Math.random() * spreadMs);
}

/** Sessions corked during this turn of the event loop; one setImmediate sends them all. */
const corkedSessions: StreamSession[] = [];

function uncorkSoon(session: StreamSession): void {
  if (corkedSessions.push(session) === 1) setImmediate(uncorkAll);
}

function uncorkAll(): void {
  for (const session of corkedSessions.splice(0)) session.uncork();
}

export function encodeTopicEvent(event: TopicEvent): EncodedEvent {
  return {
    topic: event.topic,
    seq: event.seq,
    idHash: hash32(event.notification.id),
    head: Buffer.from(notificationEventHead('notification', event.notification)),
    acceptedAt: Date.parse(event.notification.created_at),
    // A private notification of a muted type is never stored, so only topics need the check.
    mutableType: event.notification.recipient === null && event.critical !== true ? event.notification.type : null,
    hidden: false,
  };
}

/**
 * One open stream. It knows the last sequence it sent per topic, so anything offered twice
 * is dropped and any gap is filled from the store before later events go out. Until the
 * hub starts it (after `ready`), live events and inbox updates are held, never written.
 */
export class StreamSession {
  readonly id: string;
  readonly audience: Audience;
  readonly audienceKey: string;
  readonly ip: string;
  readonly expiresAt: number;
  readonly maxAgeAt: number;
  lastWriteAt: number;
  closed = false;
  /** The user's mutes; the hub sets the user's shared state at register. */
  mutes: MuteState = NO_MUTES;
  /** The response; its socket itself once the route has detached it (`writeTo`). */
  #res: ServerResponse | Socket;
  readonly #deps: SessionDeps;
  readonly #cursor: CursorFormat;
  /** The last sequence sent per topic and the hash32 of its id; #check is their XOR, the cursor's check. */
  readonly #sent: TopicPositions;
  #check = 0;
  #tracker: UnreadTracker | null = null;
  #headersSent = false;
  /** Live events held while a replay runs (or before start); null when live. */
  #pending: EncodedEvent[] | null = [];
  /** Inbox updates that arrived before `ready`; null once started. */
  #heldUpdates: HeldUpdate[] | null = [];
  #replaying = false;
  #corked = false;
  /** What was written since the cork: part of writableLength that the socket was not asked to send yet. */
  #corkedLength = 0;
  /** A write returned false and no 'drain' has come since. */
  #backpressured = false;
  /** The write in progress is a replayed one, which waits for 'drain' instead of being cut. */
  #paced = false;
  #drainWaiter: (() => void) | null = null;

  constructor(res: ServerResponse, options: SessionOptions) {
    this.#res = res;
    this.#deps = options.deps;
    this.id = options.id;
    this.audience = options.audience;
    this.audienceKey = options.audienceKey;
    this.ip = options.ip;
    this.expiresAt = options.expiresAt;
    this.maxAgeAt = options.maxAgeAt;
    this.lastWriteAt = options.deps.clock.now();
    this.#cursor = new CursorFormat(options.epoch, options.audience);
    this.#sent = new TopicPositions(options.audience.topics);
    this.#listen(res);
  }

  #listen(out: ServerResponse | Socket): void {
    out.on('close', () => this.close('client'));
    out.on('error', () => this.close('error'));
    out.on('drain', () => {
      this.#backpressured = false;
      this.#wakeDrainWaiter();
    });
  }

  /** The socket the route took from the response once the head was sent: written to directly. */
  writeTo(socket: Socket): void {
    this.#res = socket;
    this.#listen(socket);
  }

  get #socket(): Socket | null {
    return this.#res instanceof ServerResponse ? this.#res.socket : this.#res;
  }

  get user(): string {
    return this.audience.user;
  }

  get cursorFormat(): CursorFormat {
    return this.#cursor;
  }

  /** True once the hub has started it (positions and count known, `ready` written). */
  get started(): boolean {
    return this.#tracker !== null;
  }

  get unread(): number {
    return this.#tracker?.unread ?? 0;
  }

  get hasHeldUpdates(): boolean {
    return (this.#heldUpdates?.length ?? 0) > 0;
  }

  /** The last sequence sent on a topic. */
  sentOn(topic: string): number {
    return this.#sent.get(topic) ?? 0;
  }

  cursor(): string {
    return this.#cursor.encode(this.#sent, this.#check);
  }

  /** Sends the response head (200, SSE headers) and a first line, so no proxy waits. */
  sendHead(headers: Record<string, string>, retryMs: number): void {
    if (this.closed || this.#headersSent || !(this.#res instanceof ServerResponse)) return;
    this.#headersSent = true;
    // The body runs until the connection closes (HTTP/1.1 allows it; Node then sends
    // `Connection: close`), not in chunks: chunked framing made every write four.
    this.#res.useChunkedEncodingByDefault = false;
    this.#res.writeHead(200, headers);
    this.write(encodeEvent({ retry: retryMs }));
  }

  /** Sets where each topic starts and the count, then writes `ready` (and `reset` when asked). */
  start(tracker: UnreadTracker, positions: ReadonlyMap<string, StartPosition>, reset: boolean, heartbeatMs: number): void {
    for (const [topic, position] of positions) {
      const hash = position.id === null ? 0 : hash32(position.id);
      this.#check ^= this.#sent.set(topic, position.seq, hash) ^ hash;
    }
    this.#tracker = tracker;
    this.writeEvent('ready', { connection_id: this.id, unread_count: this.unread, cursor: this.cursor(), heartbeat_ms: heartbeatMs }, true);
    if (reset) this.writeEvent('reset', { reason: 'unknown_cursor', unread_count: this.unread, cursor: this.cursor() }, true);
  }

  /**
   * Writes bytes; cuts the session when the bytes its socket has not sent pass the bound (it
   * resumes by cursor). Bytes corked this turn are not counted: the socket has not been
   * asked to send them yet, and a burst (a group commit's batch) for a reader that keeps up
   * is no sign of a slow one. What is left unsent after the turn counts from the next write.
   */
  write(chunk: string | Buffer): boolean {
    if (this.closed) return false;
    // false: the chunk was queued in memory, and 'drain' will say when the queue is empty.
    if (!this.#res.write(chunk)) this.#backpressured = true;
    // As Writable counts it: characters of a string (sockets do not decode), bytes of a Buffer.
    if (this.#corked) this.#corkedLength += chunk.length;
    this.lastWriteAt = this.#deps.clock.now();
    if (!this.#paced && this.#res.writableLength - this.#corkedLength > this.#deps.bufferLimit) {
      this.close('slow_consumer');
      return false;
    }
    return true;
  }

  writeEvent(event: string, data: object, withCursor: boolean): boolean {
    return this.write(encodeEvent({ event, data: JSON.stringify(data), id: withCursor ? this.cursor() : undefined }));
  }

  heartbeat(): void {
    this.write(encodeComment('hb'));
  }

  /** An inbox change of this user: written with the current count, or held until `ready`. */
  update(payload: UpdatePayload): void {
    if (this.closed) return;
    if (this.#heldUpdates !== null) {
      this.#heldUpdates.push(payload);
      return;
    }
    this.writeEvent('notification.updated', { ...payload, unread_count: this.unread }, false);
  }

  /** The user changed their muted types: written with them and the current count, or held until `ready`. */
  preferencesUpdated(): void {
    if (this.closed) return;
    if (this.#heldUpdates !== null) {
      this.#heldUpdates.push('preferences');
      return;
    }
    this.writeEvent('preferences.updated', { muted_types: this.mutes.types, unread_count: this.unread }, false);
  }

  /** Writes the updates held before `ready` (the hub refreshed the count first). */
  flushHeldUpdates(): void {
    const held = this.#heldUpdates ?? [];
    this.#heldUpdates = null;
    for (const payload of held) {
      if (payload === 'preferences') this.preferencesUpdated();
      else this.update(payload);
    }
  }

  /** Live path: called by the hub for every event of a topic this session follows. */
  offer(event: EncodedEvent): void {
    if (this.closed) return;
    if (this.#pending !== null) {
      this.#pending.push(event);
      if (this.#pending.length > MAX_HELD_EVENTS) this.close('slow_consumer');
      return;
    }
    const sent = this.sentOn(event.topic);
    if (event.seq <= sent) return;
    if (event.seq === sent + 1) {
      this.#send(event);
      return;
    }
    // A gap: fill it from the store, holding later live events until it is filled.
    this.#pending = [event];
    void this.replay();
  }

  /**
   * Sends every stored event after `sent` for each topic (with this reader's read state),
   * then the live events held meanwhile, dropping those the replay already sent; repeats
   * if a gap remains. It waits for the socket to drain, so a reader that keeps up gets any
   * backlog on one connection. `fromStore` false skips the first reads: the stream starts
   * at the heads of a snapshot taken after it joined its topics, so everything after them
   * reaches it live (held until now), and a gap among those is still read.
   */
  async replay(fromStore = true): Promise<void> {
    if (this.#replaying) return;
    this.#replaying = true;
    this.#pending ??= [];
    let read = fromStore;
    try {
      for (;; read = true) {
        if (read) for (const topic of this.audience.topics) {
          for (;;) {
            const events = await this.#deps.store.eventsAfter(topic, this.sentOn(topic), STORE_PAGE, this.user);
            if (this.closed) return;
            let replayed = 0;
            for (const event of events) {
              if (event.seq <= this.sentOn(topic)) continue;
              // The store left out what this reader does not see (a muted type): not unread.
              if (event.seq > this.sentOn(topic) + 1) this.#tracker?.onHidden(topic, event.seq - 1);
              // Paced by 'drain' below rather than cut at the bound: with Node's default
              // high-water mark (64 KiB on Node 22+) a write can report backpressure only
              // once the queue already holds as much as a small bound allows.
              this.#paced = true;
              this.#send(encodeTopicEvent(event));
              this.#paced = false;
              replayed += 1;
              if (this.#backpressured) await this.#drained();
              if (this.closed) return;
            }
            if (replayed > 0) this.#deps.onReplayed(replayed);
            if (events.length < STORE_PAGE) break;
          }
        }
        if (this.#backpressured) await this.#drained();
        if (this.closed) return;
        const held: EncodedEvent[] = this.#pending ?? [];
        this.#pending = null;
        if (this.#sendHeld(held)) return;
        this.#pending = [];
      }
    } catch {
      this.close('error');
    } finally {
      this.#replaying = false;
    }
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      this.#drainWaiter = resolve;
    });
  }

  #wakeDrainWaiter(): void {
    const waiter = this.#drainWaiter;
    this.#drainWaiter = null;
    waiter?.();
  }

  /** True when every held event was sent or already covered; false at a gap. */
  #sendHeld(held: EncodedEvent[]): boolean {
    for (const event of held) {
      if (this.closed) return true;
      const sent = this.sentOn(event.topic);
      if (event.seq <= sent) continue;
      if (event.seq !== sent + 1) return false;
      this.#send(event);
    }
    return true;
  }

  #send(event: EncodedEvent): void {
    const muted = event.hidden || (event.mutableType !== null && this.mutes.matcher !== null && this.mutes.matcher.mutes(event.mutableType));
    if (muted) this.#tracker?.onHidden(event.topic, event.seq);
    else this.#tracker?.onEvent(event.topic, event.seq);
    // A muted event still moves the cursor (nothing is written until the next event): a
    // resume starts after it, and the next live event is not mistaken for a gap.
    this.#check ^= this.#sent.set(event.topic, event.seq, event.idHash) ^ event.idHash;
    if (muted) return;
    // Corked until the end of this turn of the event loop: the shared head, this reader's
    // tail and any other event fanned out in the same turn leave in one writev.
    const socket = this.#socket;
    if (!this.#corked && socket) {
      this.#corked = true;
      socket.cork();
      uncorkSoon(this);
    }
    this.write(event.head);
    this.write(notificationEventTail(this.unread, this.cursor()));
  }

  /** Sends what was corked this turn (see #send). */
  uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#corkedLength = 0;
    this.#socket?.uncork();
  }

  /**
   * Ends the stream after a final event; the blank line is written first, so it is whole.
   * Before the head is sent (a refused or abandoned request) it only lets go of its slot.
   */
  close(reason: CloseReason, final?: { event?: string; data?: object; retryMs?: number }): void {
    if (this.closed) return;
    if (final && this.#headersSent && !this.#res.destroyed) {
      this.#res.write(encodeEvent({ event: final.event, data: final.data && JSON.stringify(final.data), retry: final.retryMs }));
    }
    this.closed = true;
    this.#pending = null;
    this.#heldUpdates = null;
    this.#wakeDrainWaiter();
    if (this.#headersSent) {
      // A reader that does not read would never take the rest: drop it. Others end cleanly,
      // within a grace: a reader that stopped reading would otherwise hold the connection
      // and its unsent bytes forever ('finish' never comes; the server no longer tracks it).
      if (reason === 'slow_consumer') this.#res.destroy();
      else {
        this.#res.end();
        const out = this.#res;
        if (!out.writableFinished) setTimeout(() => out.destroy(), this.#deps.closeGraceMs).unref();
      }
    }
    this.#deps.onClose(this, reason);
  }
}
