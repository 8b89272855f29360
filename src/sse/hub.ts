import type { Logger } from 'pino';
import { setImmediate } from 'node:timers/promises';
import { inboxUpdate, type Bus, type BusMessage, type RemovedNotification, type UpdatePayload } from '../bus/bus.js';
import { muteMatcher } from '../domain/preferences.js';
import { HeraldError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Audience, NotificationStore, TopicEvent } from '../store/store.js';
import { systemClock, type Clock } from './clock.js';
import { hash32, type Cursor } from './cursor.js';
import { RecountQueue } from './recount-queue.js';
import {
  encodeTopicEvent, STORE_PAGE, type CloseReason, type EncodedEvent, type MuteState, type StartPosition, type StreamSession,
} from './session.js';
import { UnreadTracker } from './unread-tracker.js';

export interface HubOptions {
  heartbeatMs: number;
  maxConnections: number;
  maxConnectionsPerUser: number;
  maxConnectionsPerIp: number;
}

export interface HubDeps {
  store: NotificationStore;
  bus: Bus;
  options: HubOptions;
  log: Logger;
  metrics: Metrics;
  clock?: Clock;
}

/** This node's view of one topic: who follows it and the last sequence fanned out. */
interface TopicChannel {
  sessions: Set<StreamSession>;
  delivered: number;
  /** hash32 of the id at `delivered`, null when not known (then a rewind shows in the head). */
  deliveredIdHash: number | null;
  /** Resolves once `delivered` holds the topic's head from the store. */
  ready: Promise<void>;
  fetching: boolean;
  fetchAgain: boolean;
  /**
   * Positions (seq, id hash) passed by a hinted event without reading them again, newest
   * last: a restore that took one and whose hint was lost shows only in its id there.
   */
  unverified: Array<readonly [number, number]>;
}

/** Passed positions kept per topic until the next resync checks their ids. */
const UNVERIFIED_KEPT = 16;
/** Positions checked per query (one `idsAt` call), yielding to the event loop between. */
const VERIFY_PAGE = 200;

/** The count shared by every session of one audience, and the order of the snapshot it holds. */
interface TrackerEntry {
  tracker: UnreadTracker;
  audience: Audience;
  sessions: number;
  /** Order number of the newest snapshot applied: an older one finishing later is ignored. */
  appliedOrder: number;
}

/** One user's mutes on this node, and the order of the snapshot they came from. */
interface UserMutes extends MuteState {
  order: number;
}

/** The inbox change sent when a count was corrected without a known cause (after a fault). */
const COUNT_REFRESH: UpdatePayload = inboxUpdate();

/**
 * Fans events out to this node's streams. Bus messages are hints: a topic's events are
 * delivered strictly in sequence and a gap is read from the store first; an inbox change
 * makes the node re-read the count itself, so lost or reordered hints cannot skew it.
 */
export class Hub {
  readonly #store: NotificationStore;
  readonly #bus: Bus;
  readonly #options: HubOptions;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #clock: Clock;
  readonly #topics = new Map<string, TopicChannel>();
  readonly #users = new Map<string, Set<StreamSession>>();
  readonly #ips = new Map<string, number>();
  readonly #trackers = new Map<string, TrackerEntry>();
  /** Per user with a stream here (not per stream): loaded with each count, replaced on a change. */
  readonly #mutes = new Map<string, UserMutes>();
  readonly #sessions = new Set<StreamSession>();
  #sweepTimer: NodeJS.Timeout | null = null;
  #lastResync: number;
  #snapshotOrder = 0;
  #draining = false;
  /** Recounts of many audiences at once (expiry, resync), interleaved with everything else. */
  readonly #recounts: RecountQueue<TrackerEntry>;

  constructor(deps: HubDeps) {
    this.#store = deps.store;
    this.#bus = deps.bus;
    this.#options = deps.options;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#clock = deps.clock ?? systemClock;
    this.#lastResync = this.#clock.now();
    this.#recounts = new RecountQueue((entry) => this.#refresh(entry), (err) => this.#log.warn({ err }, 'could not refresh an unread count'));
  }

  get size(): number {
    return this.#sessions.size;
  }

  get clock(): Clock {
    return this.#clock;
  }

  async start(): Promise<void> {
    await this.#bus.start({ onMessage: (m) => this.#onBusMessage(m), onResync: () => this.#onBusResync() });
    // One sweep for every stream: heartbeats, token expiry, head re-checks.
    const tickMs = Math.min(1000, this.#options.heartbeatMs);
    this.#sweepTimer = setInterval(() => this.sweep(), tickMs);
    this.#sweepTimer.unref();
  }

  /** Throws the answer for a stream that must not open (limits, draining). Spends nothing. */
  admit(user: string, ip: string): void {
    if (this.#draining) throw new HeraldError('unavailable', 'This node is shutting down; reconnect.', 1);
    if (this.#sessions.size >= this.#options.maxConnections) throw new HeraldError('overloaded', 'This node holds its maximum number of streams.', 5);
    if ((this.#users.get(user)?.size ?? 0) >= this.#options.maxConnectionsPerUser) {
      throw new HeraldError('too_many_connections', `At most ${this.#options.maxConnectionsPerUser} streams per user; close one first.`, 5);
    }
    if ((this.#ips.get(ip) ?? 0) >= this.#options.maxConnectionsPerIp) {
      throw new HeraldError('too_many_connections', `At most ${this.#options.maxConnectionsPerIp} streams per client address.`, 5);
    }
  }

  /** Takes the session's slot at once (call right after admit, before any await). */
  register(session: StreamSession): void {
    this.#sessions.add(session);
    addTo(this.#users, session.user, session);
    let mutes = this.#mutes.get(session.user);
    if (!mutes) this.#mutes.set(session.user, (mutes = { matcher: null, types: [], order: 0 }));
    session.mutes = mutes;
    this.#ips.set(session.ip, (this.#ips.get(session.ip) ?? 0) + 1);
    this.#metrics.connections.set(this.#sessions.size);
    this.#metrics.opened.inc();
  }

  /**
   * Joins the session's topics for live events first, reads the count and heads in one
   * snapshot, checks the cursor, starts the session (`ready`, and `reset` for a cursor it
   * cannot resume), then replays from the cursor and goes live.
   */
  async open(session: StreamSession, rawCursor: string | null): Promise<void> {
    const { audience } = session;
    await Promise.all(audience.topics.map((topic) => this.#join(topic, session)));
    const order = ++this.#snapshotOrder;
    const snapshot = await this.#store.unreadSnapshot(audience);
    if (session.closed) return;
    // Before anything is written: held live events are checked against these when sent.
    this.#applyMutes(audience.user, snapshot.mutedTypes, order);

    const cursor = rawCursor === null ? null : session.cursorFormat.decode(rawCursor);
    let usable = cursor !== null && cursor.epoch === this.#store.epoch && !cursor.foreign &&
      [...cursor.seqs].every(([topic, seq]) => seq <= (snapshot.heads.get(topic) ?? 0));
    // The ids at the cursor's positions and at the heads, in one read.
    const wanted: Array<[string, number]> = [];
    for (const topic of audience.topics) {
      const head = snapshot.heads.get(topic) ?? 0;
      if (head > 0) wanted.push([topic, head]);
      const seq = usable ? cursor?.seqs.get(topic) : undefined;
      if (seq !== undefined && seq > 0 && seq !== head) wanted.push([topic, seq]);
    }
    const ids = await this.#store.idsAt(wanted);
    if (session.closed) return;
    if (usable && cursor) usable = await this.#cursorResumes(cursor, ids);
    if (session.closed) return;

    const positions = new Map<string, StartPosition>();
    for (const topic of audience.topics) {
      const head = snapshot.heads.get(topic) ?? 0;
      const seq = (usable ? cursor?.seqs.get(topic) : undefined) ?? head;
      positions.set(topic, { seq, id: seq === 0 ? null : (ids.get(`${topic}\n${seq}`) ?? null) });
    }
    let entry = this.#trackers.get(session.audienceKey);
    if (!entry) {
      entry = { tracker: new UnreadTracker(snapshot), audience, sessions: 0, appliedOrder: order };
      this.#trackers.set(session.audienceKey, entry);
    } else if (order > entry.appliedOrder) {
      entry.appliedOrder = order;
      entry.tracker.onSnapshot(snapshot);
    }
    entry.sessions += 1;
    session.start(entry.tracker, positions, rawCursor !== null && !usable, this.#options.heartbeatMs);
    if (rawCursor !== null && !usable) this.#metrics.resets.inc({ reason: 'unknown_cursor' });
    // An inbox change that arrived while this session was opening may postdate its snapshot.
    if (session.hasHeldUpdates) await this.#refresh(entry);
    session.flushHeldUpdates();
    // Started at the heads (a new client, or one that missed nothing): no backlog to read.
    await session.replay([...positions].some(([topic, position]) => position.seq < (snapshot.heads.get(topic) ?? 0)));
  }

  /**
   * True when the ids at the cursor's positions fold to its check (a cursor without one is
   * trusted). A position whose row retention deleted cannot be checked; when nothing after
   * it was deleted too, the reader missed nothing and resumes (the check, which may hold the
   * deleted id, is then not judged); otherwise it missed purged events and is reset.
   */
  async #cursorResumes(cursor: Cursor, ids: ReadonlyMap<string, string>): Promise<boolean> {
    let folded = 0;
    let checkable = cursor.check !== null;
    for (const [topic, seq] of cursor.seqs) {
      if (seq === 0) continue;
      const id = ids.get(`${topic}\n${seq}`);
      if (id !== undefined) {
        folded ^= hash32(id);
      } else {
        if (seq < (await this.#store.lowestKeptSeq(topic)) - 1) return false;
        checkable = false;
      }
    }
    return !checkable || folded >>> 0 === cursor.check;
  }

  async #join(topic: string, session: StreamSession): Promise<void> {
    let channel = this.#topics.get(topic);
    if (!channel) {
      const created: TopicChannel = {
        sessions: new Set(), delivered: 0, deliveredIdHash: null, ready: Promise.resolve(), fetching: false, fetchAgain: false, unverified: [],
      };
      created.ready = this.#store.heads([topic]).then((heads) => {
        created.delivered = Math.max(created.delivered, heads.get(topic) ?? 0);
      }, (err: unknown) => {
        // Forget the channel, so the next stream joining this topic reads the head again.
        if (this.#topics.get(topic) === created) this.#topics.delete(topic);
        throw err;
      });
      this.#topics.set(topic, (channel = created));
    }
    channel.sessions.add(session);
    await channel.ready;
  }

  #onSessionClosed(session: StreamSession, reason: CloseReason): void {
    if (!this.#sessions.delete(session)) return;
    removeFrom(this.#users, session.user, session);
    if (!this.#users.has(session.user)) this.#mutes.delete(session.user);
    const ipCount = (this.#ips.get(session.ip) ?? 1) - 1;
    if (ipCount > 0) this.#ips.set(session.ip, ipCount);
    else this.#ips.delete(session.ip);
    for (const topic of session.audience.topics) {
      const channel = this.#topics.get(topic);
      channel?.sessions.delete(session);
      if (channel && channel.sessions.size === 0 && !channel.fetching) this.#topics.delete(topic);
    }
    if (session.started) {
      const entry = this.#trackers.get(session.audienceKey);
      if (entry && --entry.sessions === 0) this.#trackers.delete(session.audienceKey);
    }
    this.#metrics.connections.set(this.#sessions.size);
    this.#metrics.closed.inc({ reason });
  }

  /** Counts events a session sent from the store instead of live. */
  readonly onReplayed = (count: number): void => this.#metrics.replayed.inc(count);

  /** The close hook every session reports to (bound once, so the maps stay private). */
  readonly onSessionClosed = (session: StreamSession, reason: CloseReason): void => this.#onSessionClosed(session, reason);

  #onBusMessage(message: BusMessage): void {
    if (message.kind === 'notification') this.#onNotification(message.event);
    else if (message.kind === 'removed') this.expired(message.notifications);
    else this.#onUpdated(message.user, message.update, message.preferences === true);
  }

  #onNotification(event: TopicEvent): void {
    const channel = this.#topics.get(event.topic);
    if (!channel || event.seq < channel.delivered) return;
    if (event.seq === channel.delivered) {
      // The same position with another id: the database was rewound (restored).
      if (channel.deliveredIdHash !== null && hash32(event.notification.id) !== channel.deliveredIdHash) this.#rewound(event.topic, channel);
      return;
    }
    if (event.seq === channel.delivered + 1 && !channel.fetching) {
      // Trusted that the position before is still what this node delivered there; the next
      // resync checks (a restored database may have given it to an event whose hint was lost).
      if (this.#bus.lossless !== true && channel.deliveredIdHash !== null && channel.delivered > 0) {
        if (channel.unverified.push([channel.delivered, channel.deliveredIdHash]) > UNVERIFIED_KEPT) channel.unverified.shift();
      }
      this.#fanOut(channel, encodeAsOf(event, this.#clock.now()));
    } else {
      void this.#fetch(event.topic);
    }
  }

  #fanOut(channel: TopicChannel, event: EncodedEvent): void {
    channel.delivered = event.seq;
    channel.deliveredIdHash = event.idHash;
    for (const session of channel.sessions) session.offer(event);
    this.#metrics.delivered.inc(channel.sessions.size);
    this.#metrics.deliveryLatency.observe(Math.max(0, this.#clock.now() - event.acceptedAt) / 1000);
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
          // From the last delivered event itself when its id is known: a different id there
          // means the database was rewound and this node's position is meaningless.
          const checkLast = channel.deliveredIdHash !== null && channel.delivered > 0;
          const events = await this.#store.eventsAfter(topic, channel.delivered - (checkLast ? 1 : 0), STORE_PAGE);
          if (checkLast && events[0]?.seq === channel.delivered && hash32(events[0].notification.id) !== channel.deliveredIdHash) {
            this.#rewound(topic, channel);
            return;
          }
          const now = this.#clock.now();
          for (const event of events) {
            if (event.seq === channel.delivered + 1) this.#fanOut(channel, encodeAsOf(event, now));
          }
          if (events.length < STORE_PAGE) break;
        }
      } while (channel.fetchAgain);
    } catch (err) {
      // The store is unreachable; the next sweep's resync retries.
      this.#log.warn({ err, topic }, 'could not read topic events; will retry');
    } finally {
      channel.fetching = false;
      if (channel.sessions.size === 0 && this.#topics.get(topic) === channel) this.#topics.delete(topic);
    }
  }

  /**
   * The topic's head went back (a restored backup): positions on this node mean nothing
   * now. Its streams close with a retry hint; on reconnect their cursors get `reset`.
   */
  #rewound(topic: string, channel: TopicChannel): void {
    this.#log.warn({ topic, delivered: channel.delivered }, 'topic head went back (database restored?); resetting its streams');
    if (this.#topics.get(topic) === channel) this.#topics.delete(topic);
    for (const session of [...channel.sessions]) session.close('reset', { retryMs: retryHintMs(1000) });
  }

  /**
   * Re-reads every followed topic's head and fetches what this node has not delivered;
   * checks the ids at positions passed on a hint alone since the last resync.
   */
  resync(): void {
    const topics = [...this.#topics.keys()];
    if (topics.length === 0) return;
    this.#store.heads(topics).then((heads) => {
      for (const [topic, head] of heads) {
        const channel = this.#topics.get(topic);
        if (!channel) continue;
        if (head < channel.delivered) this.#rewound(topic, channel);
        else if (head > channel.delivered) void this.#fetch(topic);
      }
    }, (err: unknown) => this.#log.warn({ err }, 'could not re-read topic heads; will retry'));
    void this.#verifyPassed().catch((err: unknown) => this.#log.warn({ err }, 'could not check delivered positions; will retry'));
  }

  /** Passed positions whose id is not the one delivered there: the database was rewound. */
  async #verifyPassed(): Promise<void> {
    const passed: Array<{ topic: string; channel: TopicChannel; seq: number; idHash: number }> = [];
    for (const [topic, channel] of this.#topics) {
      for (const [seq, idHash] of channel.unverified) passed.push({ topic, channel, seq, idHash });
      channel.unverified = [];
    }
    for (let start = 0; start < passed.length; start += VERIFY_PAGE) {
      const page = passed.slice(start, start + VERIFY_PAGE);
      const ids = await this.#store.idsAt(page.map(({ topic, seq }) => [topic, seq] as const));
      for (const { topic, channel, seq, idHash } of page) {
        const id = ids.get(`${topic}\n${seq}`);
        // Absent: retention deleted it since, which rewinds nothing.
        if (id !== undefined && hash32(id) !== idHash && this.#topics.get(topic) === channel) this.#rewound(topic, channel);
      }
      await setImmediate();
    }
  }

  /** The bus may have lost messages: re-read heads, and every count (inbox changes may be lost too). */
  #onBusResync(): void {
    this.resync();
    for (const [key, entry] of this.#trackers) {
      const before = entry.tracker.unread;
      this.#recounts.add(entry, (mutesChanged) => {
        // A lost change of preferences is told as one (it carries the count too).
        if (mutesChanged) for (const session of this.#users.get(entry.audience.user) ?? []) session.preferencesUpdated();
        else if (entry.tracker.unread === before) return;
        else for (const session of this.#sessionsOf(entry.audience.user, key)) session.update(COUNT_REFRESH);
      });
    }
  }

  /**
   * Reads the audience's count (and its user's mutes) again; the newest snapshot started
   * wins whatever order they finish in. True when the mutes changed.
   */
  async #refresh(entry: TrackerEntry): Promise<boolean> {
    const order = ++this.#snapshotOrder;
    const snapshot = await this.#store.unreadSnapshot(entry.audience);
    const mutesChanged = this.#applyMutes(entry.audience.user, snapshot.mutedTypes, order);
    if (order <= entry.appliedOrder) return mutesChanged;
    entry.appliedOrder = order;
    entry.tracker.onSnapshot(snapshot);
    return mutesChanged;
  }

  /** Takes the user's mutes from a snapshot newer than the one they came from; true when they changed. */
  #applyMutes(user: string, types: readonly string[], order: number): boolean {
    const mutes = this.#mutes.get(user);
    if (!mutes || order <= mutes.order) return false;
    mutes.order = order;
    if (types.length === mutes.types.length && types.every((type, i) => type === mutes.types[i])) return false;
    mutes.types = types;
    mutes.matcher = muteMatcher(types);
    return true;
  }

  #sessionsOf(user: string, key: string): StreamSession[] {
    return [...(this.#users.get(user) ?? [])].filter((session) => session.audienceKey === key);
  }

  /**
   * An inbox change of `user` (on any node), or a change of their preferences: recount each
   * of the user's audiences (re-reading the mutes with it), then tell its streams.
   */
  #onUpdated(user: string, update: UpdatePayload, preferences: boolean): void {
    const sessions = this.#users.get(user);
    if (!sessions) return;
    const tell = (session: StreamSession) => (preferences ? session.preferencesUpdated() : session.update(update));
    const keys = new Set([...sessions].map((session) => session.audienceKey));
    for (const key of keys) {
      const entry = this.#trackers.get(key);
      // Not started yet: the sessions hold the change and recount when they start.
      if (!entry) {
        for (const session of this.#sessionsOf(user, key)) tell(session);
        continue;
      }
      this.#refresh(entry).then(() => {
        for (const session of this.#sessionsOf(user, key)) tell(session);
      }, (err: unknown) => this.#log.warn({ err }, 'could not refresh an unread count'));
    }
  }

  /**
   * Notifications passed their expiry (src/sse/due-sweeper.ts) or retention deleted them
   * (a `removed` bus message): every audience here that follows one of their topics
   * recounts, then its streams hear which ids left.
   */
  expired(notifications: readonly RemovedNotification[]): void {
    const byTopic = new Map<string, string[]>();
    for (const { topic, id } of notifications) {
      const ids = byTopic.get(topic);
      if (ids) ids.push(id);
      else byTopic.set(topic, [id]);
    }
    for (const [key, entry] of this.#trackers) {
      const { ids, more } = expiredOf(entry.audience.topics, byTopic);
      if (ids.length === 0) continue;
      this.#recounts.add(entry, () => {
        for (const session of this.#sessionsOf(entry.audience.user, key)) {
          // One still opening has not sent `ready`; its replay leaves the expired out anyway.
          if (session.started && !session.closed) {
            session.writeEvent('notification.expired', { ids, unread_count: session.unread, ...(more ? { more: true } : {}) }, false);
          }
        }
      });
    }
  }

  /** Snoozes of `user` ended by time (src/sse/due-sweeper.ts): recount and tell the user's streams here. */
  woken(user: string, ids: string[]): void {
    this.#onUpdated(user, inboxUpdate({ ids, snoozed_until: null }), false);
  }

  /** Heartbeats, token expiry, maximum age, and the periodic head re-check. Runs on a timer. */
  sweep(): void {
    const now = this.#clock.now();
    for (const session of this.#sessions) {
      if (!session.started) continue;
      if (now >= session.expiresAt) {
        session.close('token_expired', { event: 'auth-expired', data: { reason: 'token_expired' } });
      } else if (now >= session.maxAgeAt) {
        session.close('max_age', { retryMs: retryHintMs(1000) });
      } else if (now - session.lastWriteAt >= this.#options.heartbeatMs) {
        session.heartbeat();
      }
    }
    if (now - this.#lastResync >= this.#options.heartbeatMs) {
      this.#lastResync = now;
      this.resync();
    }
  }

  /** True once the node is shutting down: it admits nothing new (streams here, requests in app.ts). */
  get draining(): boolean {
    return this.#draining;
  }

  /** Stops admitting streams and closes the open ones spread over the window. */
  async drain(windowMs: number): Promise<void> {
    this.#draining = true;
    const sessions = [...this.#sessions];
    await Promise.all(sessions.map((session) => new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // A jittered retry hint so clients do not all return at the same instant.
        session.close('drain', { retryMs: retryHintMs(Math.max(1000, windowMs)) });
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


/** Ids one `notification.expired` event names at most; past it, `more: true` asks for a refetch. */
export const MAX_EXPIRED_IDS = 100;

/** The expired ids an audience follows, at most MAX_EXPIRED_IDS of them, and whether there were more. */
function expiredOf(topics: readonly string[], byTopic: ReadonlyMap<string, string[]>): { ids: string[]; more: boolean } {
  let ids: string[] = [];
  let more = false;
  for (const topic of topics) {
    const expired = byTopic.get(topic);
    if (!expired) continue;
    if (ids.length + expired.length > MAX_EXPIRED_IDS) {
      more = true;
      ids = ids.concat(expired.slice(0, MAX_EXPIRED_IDS - ids.length));
      break;
    }
    // One topic's list as it is (shared by every reader of a broadcast, not copied).
    ids = ids.length === 0 ? expired : ids.concat(expired);
  }
  return { ids, more };
}

/**
 * An event as the hub fans it out at `now`, from a hint or from the gap fill's unfiltered
 * read (one read serves every reader): one whose expiry passed meanwhile (a hint held by the
 * broker, a gap read late) goes to no stream, but still takes its position in every stream's
 * sequence, so none sees a gap there or counts it unread.
 */
function encodeAsOf(event: TopicEvent, now: number): EncodedEvent {
  const encoded = encodeTopicEvent(event);
  const expiresAt = event.notification.expires_at;
  if (expiresAt !== null && Date.parse(expiresAt) <= now) encoded.hidden = true;
  return encoded;
}

/** A reconnect hint (`retry:`) spread over `spreadMs`, so clients never return all at once. */
export function retryHintMs(spreadMs: number): number {
  return Math.floor(500 + Math.random() * spreadMs);
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
