import type { Logger } from 'pino';
import type { Bus, BusMessage, UpdatePayload } from '../bus/bus.js';
import { HeraldError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Audience, NotificationStore, TopicEvent } from '../store/store.js';
import { decodeCursor } from './cursor.js';
import { encodeTopicEvent, StreamSession, type CloseReason, type EncodedEvent } from './session.js';
import { UnreadTracker } from './unread-tracker.js';

export interface HubOptions {
  heartbeatMs: number;
  maxConnections: number;
  maxConnectionsPerUser: number;
  maxConnectionsPerIp: number;
}

/** This node's view of one topic: who follows it and the last sequence fanned out. */
interface TopicChannel {
  sessions: Set<StreamSession>;
  delivered: number;
  /** Resolves once `delivered` holds the topic's head from the store. */
  ready: Promise<void>;
  fetching: boolean;
  fetchAgain: boolean;
}

interface TrackerEntry {
  tracker: UnreadTracker;
  sessions: number;
}

const FETCH_PAGE = 500;

/** Identifies an audience (user + topics) so sessions with the same view share a count. */
export function audienceKey(audience: Audience): string {
  return `${audience.user}\n${[...audience.topics].sort().join('\n')}`;
}

/**
 * Fans events out to this node's streams. Bus messages are hints: a topic's events are
 * delivered strictly in sequence, and a gap is read from the store first (DESIGN §4.3).
 */
export class Hub {
  readonly #topics = new Map<string, TopicChannel>();
  readonly #users = new Map<string, Set<StreamSession>>();
  readonly #ips = new Map<string, number>();
  readonly #trackers = new Map<string, TrackerEntry>();
  readonly #sessions = new Set<StreamSession>();
  #sweepTimer: NodeJS.Timeout | null = null;
  #lastResync = Date.now();
  #draining = false;

  constructor(
    private readonly store: NotificationStore,
    private readonly bus: Bus,
    private readonly options: HubOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  get size(): number {
    return this.#sessions.size;
  }

  async start(): Promise<void> {
    await this.bus.start({ onMessage: (m) => this.#onBusMessage(m), onResync: () => this.resync() });
    // One sweep for every stream: heartbeats, token expiry, head re-checks.
    const tickMs = Math.min(1000, this.options.heartbeatMs);
    this.#sweepTimer = setInterval(() => this.#sweep(), tickMs);
    this.#sweepTimer.unref();
  }

  /** Throws the answer for a stream that must not open (limits, draining). */
  admit(user: string, ip: string): void {
    if (this.#draining) throw new HeraldError('unavailable', 'This node is shutting down; reconnect.', 1);
    if (this.#sessions.size >= this.options.maxConnections) throw new HeraldError('overloaded', 'This node holds its maximum number of streams.', 5);
    if ((this.#users.get(user)?.size ?? 0) >= this.options.maxConnectionsPerUser) {
      throw new HeraldError('too_many_connections', `At most ${this.options.maxConnectionsPerUser} streams per user; close one first.`, 5);
    }
    if ((this.#ips.get(ip) ?? 0) >= this.options.maxConnectionsPerIp) {
      throw new HeraldError('too_many_connections', `At most ${this.options.maxConnectionsPerIp} streams per client address.`, 5);
    }
  }

  /**
   * Registers the session for live events first, then reads the unread snapshot, answers
   * `ready` (and `reset` for an unusable cursor), then replays from the cursor and goes live.
   */
  async open(session: StreamSession, rawCursor: string | null): Promise<void> {
    this.#sessions.add(session);
    addTo(this.#users, session.user, session);
    this.#ips.set(session.ip, (this.#ips.get(session.ip) ?? 0) + 1);
    this.metrics.connections.set(this.#sessions.size);
    this.metrics.opened.inc();
    await Promise.all(session.audience.topics.map((topic) => this.#join(topic, session)));
    const snapshot = await this.store.unreadSnapshot(session.audience);
    if (session.closed) return;
    let entry = this.#trackers.get(session.audienceKey);
    if (entry) entry.tracker.onSnapshot(snapshot);
    else this.#trackers.set(session.audienceKey, (entry = { tracker: new UnreadTracker(snapshot), sessions: 0 }));
    entry.sessions += 1;
    session.tracker = entry.tracker;

    const cursor = rawCursor === null ? null : decodeCursor(rawCursor, session.user);
    const usable = cursor !== null && cursor.epoch === this.store.epoch &&
      [...cursor.seqs].every(([topic, seq]) => seq <= (snapshot.heads.get(topic) ?? seq));
    for (const topic of session.audience.topics) {
      const head = snapshot.heads.get(topic) ?? 0;
      session.sent.set(topic, usable ? (cursor.seqs.get(topic) ?? head) : head);
    }
    session.writeEvent('ready', {
      connection_id: session.id, unread_count: session.unread, cursor: session.cursor(), heartbeat_ms: this.options.heartbeatMs,
    }, true);
    if (rawCursor !== null && !usable) {
      session.writeEvent('reset', { reason: 'unknown_cursor', unread_count: session.unread, cursor: session.cursor() }, true);
      this.metrics.resets.inc({ reason: 'unknown_cursor' });
    }
    await session.replay(this.store);
  }

  async #join(topic: string, session: StreamSession): Promise<void> {
    let channel = this.#topics.get(topic);
    if (!channel) {
      const created: TopicChannel = { sessions: new Set(), delivered: 0, ready: Promise.resolve(), fetching: false, fetchAgain: false };
      created.ready = this.store.heads([topic]).then((heads) => {
        created.delivered = Math.max(created.delivered, heads.get(topic) ?? 0);
      });
      this.#topics.set(topic, (channel = created));
    }
    channel.sessions.add(session);
    await channel.ready;
  }

  #onSessionClosed(session: StreamSession, reason: CloseReason): void {
    if (!this.#sessions.delete(session)) return;
    removeFrom(this.#users, session.user, session);
    const ipCount = (this.#ips.get(session.ip) ?? 1) - 1;
    if (ipCount > 0) this.#ips.set(session.ip, ipCount);
    else this.#ips.delete(session.ip);
    for (const topic of session.audience.topics) {
      const channel = this.#topics.get(topic);
      channel?.sessions.delete(session);
      if (channel && channel.sessions.size === 0 && !channel.fetching) this.#topics.delete(topic);
    }
    const entry = this.#trackers.get(session.audienceKey);
    if (entry && session.tracker === entry.tracker && --entry.sessions === 0) this.#trackers.delete(session.audienceKey);
    this.metrics.connections.set(this.#sessions.size);
    this.metrics.closed.inc({ reason });
  }

  /** Counts events a session sent from the store instead of live. */
  readonly onReplayed = (count: number): void => this.metrics.replayed.inc(count);

  /** The close hook every session reports to (bound once, so the maps stay private). */
  readonly onSessionClosed = (session: StreamSession, reason: CloseReason): void => this.#onSessionClosed(session, reason);

  #onBusMessage(message: BusMessage): void {
    if (message.kind === 'notification') this.#onNotification(message.event);
    else this.#onUpdated(message);
  }

  #onNotification(event: TopicEvent): void {
    const channel = this.#topics.get(event.topic);
    if (!channel || event.seq <= channel.delivered) return;
    if (event.seq === channel.delivered + 1 && !channel.fetching) this.#fanOut(channel, encodeTopicEvent(event));
    else void this.#fetch(event.topic);
  }

  #fanOut(channel: TopicChannel, event: EncodedEvent): void {
    channel.delivered = event.seq;
    for (const session of channel.sessions) session.offer(event, this.store);
    this.metrics.delivered.inc(channel.sessions.size);
    this.metrics.deliveryLatency.observe(Math.max(0, Date.now() - event.acceptedAt) / 1000);
  }

  /** Reads a topic's events after what this node delivered, in order; one reader per topic. */
  async #fetch(topic: string): Promise<void> {
    const channel = this.#topics.get(topic);
    if (!channel) return;
    if (channel.fetching) {
      channel.fetchAgain = true;
      return;
    }
    channel.fetching = true;
    try {
      await channel.ready;
      do {
        channel.fetchAgain = false;
        for (;;) {
          const events = await this.store.eventsAfter(topic, channel.delivered, FETCH_PAGE);
          for (const event of events) {
            if (event.seq === channel.delivered + 1) this.#fanOut(channel, encodeTopicEvent(event));
          }
          if (events.length < FETCH_PAGE) break;
        }
      } while (channel.fetchAgain);
    } catch (err) {
      // The store is unreachable; the next sweep's resync retries.
      this.log.warn({ err, topic }, 'could not read topic events; will retry');
    } finally {
      channel.fetching = false;
      if (channel.sessions.size === 0) this.#topics.delete(topic);
    }
  }

  /** Re-reads every followed topic's head and fetches what this node has not delivered. */
  resync(): void {
    const topics = [...this.#topics.keys()];
    if (topics.length === 0) return;
    this.store.heads(topics).then((heads) => {
      for (const [topic, head] of heads) {
        const channel = this.#topics.get(topic);
        if (channel && head > channel.delivered) void this.#fetch(topic);
      }
    }, (err: unknown) => this.log.warn({ err }, 'could not re-read topic heads; will retry'));
  }

  #onUpdated(message: Extract<BusMessage, { kind: 'updated' }>): void {
    const sessions = this.#users.get(message.user);
    if (!sessions) return;
    const refreshed = new Set<string>();
    for (const session of sessions) {
      if (refreshed.has(session.audienceKey)) continue;
      refreshed.add(session.audienceKey);
      const entry = this.#trackers.get(session.audienceKey);
      if (!entry) continue;
      if (session.audienceKey === message.audienceKey) {
        entry.tracker.onSnapshot({ unread: message.unread, heads: new Map(message.heads) });
        this.#sendUpdate(message.user, session.audienceKey, message.update);
      } else {
        // Another set of topics (other groups): its count needs its own snapshot.
        this.store.unreadSnapshot(session.audience).then((snapshot) => {
          entry.tracker.onSnapshot(snapshot);
          this.#sendUpdate(message.user, session.audienceKey, message.update);
        }, (err: unknown) => this.log.warn({ err }, 'could not refresh unread count'));
      }
    }
  }

  #sendUpdate(user: string, key: string, update: UpdatePayload): void {
    for (const session of this.#users.get(user) ?? []) {
      if (session.audienceKey === key) session.writeEvent('notification.updated', { ...update, unread_count: session.unread }, false);
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const session of this.#sessions) {
      if (now >= session.expiresAt) {
        session.close('token_expired', { event: 'auth-expired', data: { reason: 'token_expired' } });
      } else if (now >= session.maxAgeAt) {
        session.close('max_age', { retryMs: jitter(1000) });
      } else if (now - session.lastWriteAt >= this.options.heartbeatMs) {
        session.heartbeat();
      }
    }
    if (now - this.#lastResync >= this.options.heartbeatMs) {
      this.#lastResync = now;
      this.resync();
    }
  }

  /** Stops admitting streams and closes the open ones spread over the window. */
  async drain(windowMs: number): Promise<void> {
    this.#draining = true;
    const sessions = [...this.#sessions];
    await Promise.all(sessions.map((session) => new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // A jittered retry hint so clients do not all return at the same instant.
        session.close('drain', { retryMs: jitter(Math.max(1000, windowMs)) });
        resolve();
      }, Math.random() * windowMs);
      timer.unref();
    })));
  }

  async close(): Promise<void> {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    for (const session of [...this.#sessions]) session.close('drain');
  }
}

function jitter(maxMs: number): number {
  return Math.floor(500 + Math.random() * maxMs);
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}
