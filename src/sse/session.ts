import type { ServerResponse } from 'node:http';
import type { Audience, NotificationStore, TopicEvent } from '../store/store.js';
import { encodeComment, encodeEvent, notificationEventHead, notificationEventTail } from './encode.js';
import { encodeCursor } from './cursor.js';
import type { UnreadTracker } from './unread-tracker.js';

export type CloseReason = 'client' | 'slow_consumer' | 'token_expired' | 'max_age' | 'drain' | 'error';

/** A notification event ready to write: the shared head bytes plus where it sits. */
export interface EncodedEvent {
  topic: string;
  seq: number;
  head: Buffer;
  /** When the notification was accepted (ms since epoch), for the latency histogram. */
  acceptedAt: number;
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
  /** Bytes the socket may hold unsent before the session is cut. */
  bufferLimit: number;
  /** Live events buffered while a replay runs before the session is cut. */
  pendingLimit: number;
  onClose(session: StreamSession, reason: CloseReason): void;
  /** Counts events sent from the store (resume or gap fill) rather than live. */
  onReplayed(count: number): void;
}

const REPLAY_PAGE = 500;

export function encodeTopicEvent(event: TopicEvent): EncodedEvent {
  return {
    topic: event.topic,
    seq: event.seq,
    head: Buffer.from(notificationEventHead('notification', event.notification)),
    acceptedAt: Date.parse(event.notification.created_at),
  };
}

/**
 * One open stream. It knows the last sequence it sent per topic, so anything offered twice
 * is dropped and any gap is filled from the store before later events go out.
 */
export class StreamSession {
  readonly id: string;
  readonly audience: Audience;
  readonly audienceKey: string;
  readonly ip: string;
  readonly expiresAt: number;
  readonly maxAgeAt: number;
  readonly sent = new Map<string, number>();
  lastWriteAt = Date.now();
  closed = false;
  tracker: UnreadTracker | null = null;
  /** Live events that arrived while a replay was running; null once live. */
  #pending: EncodedEvent[] | null = [];
  #replaying = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SessionOptions,
  ) {
    this.id = options.id;
    this.audience = options.audience;
    this.audienceKey = options.audienceKey;
    this.ip = options.ip;
    this.expiresAt = options.expiresAt;
    this.maxAgeAt = options.maxAgeAt;
    res.on('close', () => this.close('client'));
    res.on('error', () => this.close('error'));
  }

  get user(): string {
    return this.audience.user;
  }

  get unread(): number {
    return this.tracker?.unread ?? 0;
  }

  cursor(): string {
    return encodeCursor(this.options.epoch, this.audience.user, this.sent);
  }

  /** Writes bytes; cuts the session when its unsent bytes pass the bound (it resumes by cursor). */
  write(chunk: string | Buffer): boolean {
    if (this.closed) return false;
    this.res.write(chunk);
    this.lastWriteAt = Date.now();
    if (this.res.writableLength > this.options.bufferLimit) {
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

  /** Live path: called by the hub for every event of a topic this session follows. */
  offer(event: EncodedEvent, store: NotificationStore): void {
    if (this.closed) return;
    if (this.#pending !== null) {
      this.#pending.push(event);
      if (this.#pending.length > this.options.pendingLimit) this.close('slow_consumer');
      return;
    }
    const sent = this.sent.get(event.topic) ?? 0;
    if (event.seq <= sent) return;
    if (event.seq === sent + 1) {
      this.#send(event);
      return;
    }
    // A gap: fill it from the store, holding later live events until it is filled.
    this.#pending = [event];
    void this.replay(store);
  }

  /**
   * Sends every stored event after `sent` for each topic, then the live events held
   * meanwhile, dropping those the replay already sent; repeats if a gap remains.
   */
  async replay(store: NotificationStore): Promise<void> {
    if (this.#replaying) return;
    this.#replaying = true;
    this.#pending ??= [];
    try {
      for (;;) {
        for (const topic of this.audience.topics) {
          for (;;) {
            const events = await store.eventsAfter(topic, this.sent.get(topic) ?? 0, REPLAY_PAGE);
            if (this.closed) return;
            let replayed = 0;
            for (const event of events) {
              if (event.seq <= (this.sent.get(topic) ?? 0)) continue;
              this.#send(encodeTopicEvent(event));
              replayed += 1;
            }
            if (replayed > 0) this.options.onReplayed(replayed);
            if (events.length < REPLAY_PAGE) break;
          }
        }
        const held: EncodedEvent[] = this.#pending ?? [];
        this.#pending = null;
        if (this.#drainHeld(held)) return;
        this.#pending = [];
      }
    } catch {
      this.close('error');
    } finally {
      this.#replaying = false;
    }
  }

  /** True when every held event was sent or already covered; false at a gap. */
  #drainHeld(held: EncodedEvent[]): boolean {
    for (const event of held) {
      if (this.closed) return true;
      const sent = this.sent.get(event.topic) ?? 0;
      if (event.seq <= sent) continue;
      if (event.seq !== sent + 1) return false;
      this.#send(event);
    }
    return true;
  }

  #send(event: EncodedEvent): void {
    this.tracker?.onEvent(event.topic, event.seq);
    this.sent.set(event.topic, event.seq);
    // One writev for the shared head and this reader's tail.
    const socket = this.res.socket;
    socket?.cork();
    this.write(event.head);
    this.write(notificationEventTail(this.unread, this.cursor()));
    socket?.uncork();
  }

  /** Ends the stream after a final event; the blank line is written first, so it is whole. */
  close(reason: CloseReason, final?: { event?: string; data?: object; retryMs?: number }): void {
    if (this.closed) return;
    if (final && !this.res.destroyed) {
      this.res.write(encodeEvent({ event: final.event, data: final.data && JSON.stringify(final.data), retry: final.retryMs }));
    }
    this.closed = true;
    this.#pending = null;
    if (reason === 'slow_consumer' || reason === 'error') this.res.destroy();
    else this.res.end();
    this.options.onClose(this, reason);
  }
}
