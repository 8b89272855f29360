import type { Logger } from 'pino';
import type { Bus, BusMessage, RemovedNotification } from '../bus/bus.js';
import type { Metrics } from '../metrics.js';
import type { NotificationStore } from '../store/store.js';
import type { PresenceListener } from '../push/presence.js';
import { Admission, type AdmissionLimits } from './admission.js';
import { AudienceCounts } from './audience-counts.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { retryHintMs, type CloseReason, type StreamSession } from './session.js';
import { startPositions } from './start-positions.js';
import { TopicFanout } from './topic-fanout.js';

export interface HubOptions extends AdmissionLimits {
  /** Longest silence on a stream before a heartbeat, and the period of the head re-check (ms). */
  heartbeatMs: number;
}

export interface HubDeps {
  store: NotificationStore;
  bus: Bus;
  options: HubOptions;
  log: Logger;
  metrics: Metrics;
  clock?: Clock;
  /** Told when a user's first stream here opens and their last one closes (Web Push asks who is looking). */
  presence?: PresenceListener;
}

/**
 * This node's streams, in three parts the way centrifuge splits connections from
 * subscriptions: who may hold a stream (Admission), what each followed topic delivers
 * (TopicFanout), and the counts and mutes of the audiences streaming here (AudienceCounts).
 * The hub wires them to the bus, opens streams and runs the one sweep for all of them.
 * Bus messages are hints: a topic's events are delivered strictly in sequence and a gap is
 * read from the store first; an inbox change makes the node re-read the count itself, so
 * lost or reordered hints cannot skew it.
 */
export class Hub {
  readonly #store: NotificationStore;
  readonly #bus: Bus;
  readonly #options: HubOptions;
  readonly #metrics: Metrics;
  readonly #clock: Clock;
  readonly #admission: Admission;
  readonly #fanout: TopicFanout;
  readonly #counts: AudienceCounts;
  readonly #presence: PresenceListener | undefined;
  #sweepTimer: NodeJS.Timeout | null = null;
  #lastResync: number;

  constructor(deps: HubDeps) {
    this.#store = deps.store;
    this.#bus = deps.bus;
    this.#options = deps.options;
    this.#metrics = deps.metrics;
    this.#clock = deps.clock ?? systemClock;
    this.#lastResync = this.#clock.now();
    this.#admission = new Admission(deps.options);
    this.#presence = deps.presence;
    this.#fanout = new TopicFanout({ store: deps.store, lossless: deps.bus.lossless === true, log: deps.log, metrics: deps.metrics, clock: this.#clock });
    const admission = this.#admission;
    this.#counts = new AudienceCounts({ store: deps.store, log: deps.log, streamsOf: (user) => admission.streamsOf(user) });
  }

  get size(): number {
    return this.#admission.size;
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
    this.#admission.admit(user, ip);
  }

  /** Takes the session's slot at once (call right after admit, before any await). */
  register(session: StreamSession): void {
    this.#admission.add(session);
    if (this.#admission.streamsOf(session.user)?.size === 1) this.#presence?.opened(session.user);
    this.#counts.register(session);
    this.#metrics.connections.set(this.#admission.size);
    this.#metrics.opened.inc();
  }

  /**
   * Joins the session's topics for live events first, reads the count and heads in one
   * snapshot, checks the cursor, starts the session (`ready`, and `reset` for a cursor it
   * cannot resume), then replays from the cursor and goes live.
   */
  async open(session: StreamSession, rawCursor: string | null): Promise<void> {
    await this.#fanout.join(session);
    const read = await this.#counts.read(session.audience);
    if (session.closed) return;
    // Before anything is written: held live events are checked against these when sent.
    this.#counts.takeMutes(session.user, read);
    const start = await startPositions(this.#store, session, rawCursor, read.snapshot.heads);
    if (start === null) return;
    const count = this.#counts.attach(session, read);
    session.start(count.tracker, start.positions, start.reset, this.#options.heartbeatMs);
    if (start.reset) this.#metrics.resets.inc({ reason: 'unknown_cursor' });
    // An inbox change that arrived while this session was opening may postdate its snapshot.
    if (session.hasHeldUpdates) await this.#counts.refresh(count);
    session.flushHeldUpdates();
    // Started at the heads (a new client, or one that missed nothing): no backlog to read.
    await session.replay(start.behind);
  }

  /** Counts events a session sent from the store instead of live. */
  readonly onReplayed = (count: number): void => this.#metrics.replayed.inc(count);

  /** The close hook every session reports to (bound once, so the parts stay private). */
  readonly onSessionClosed = (session: StreamSession, reason: CloseReason): void => {
    if (!this.#admission.remove(session)) return;
    if (this.#admission.streamsOf(session.user) === undefined) this.#presence?.closed(session.user);
    this.#counts.leave(session);
    this.#fanout.leave(session);
    this.#metrics.connections.set(this.#admission.size);
    this.#metrics.closed.inc({ reason });
  };

  #onBusMessage(message: BusMessage): void {
    if (message.kind === 'notification') this.#fanout.onNotification(message.event);
    else if (message.kind === 'removed') this.#counts.expired(message.notifications);
    else this.#counts.updated(message.user, message.update, message.preferences === true);
  }

  /** The bus may have lost messages: re-read heads, and every count (inbox changes may be lost too). */
  #onBusResync(): void {
    this.resync();
    this.#counts.recountAll();
  }

  /**
   * Re-reads every followed topic's head and fetches what this node has not delivered;
   * checks the ids at positions passed on a hint alone since the last resync.
   */
  resync(): void {
    this.#fanout.resync();
  }

  /**
   * Notifications passed their expiry (src/sse/due-sweeper.ts) or retention deleted them
   * (a `removed` bus message): every audience here that follows one of their topics
   * recounts, then its streams hear which ids left.
   */
  expired(notifications: readonly RemovedNotification[]): void {
    this.#counts.expired(notifications);
  }

  /** Snoozes of `user` ended by time (src/sse/due-sweeper.ts): recount and tell the user's streams here. */
  woken(user: string, ids: string[]): void {
    this.#counts.woken(user, ids);
  }

  /** Heartbeats, token expiry, maximum age, and the periodic head re-check. Runs on a timer. */
  sweep(): void {
    const now = this.#clock.now();
    for (const session of this.#admission.sessions) {
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
    return this.#admission.draining;
  }

  /** Stops admitting streams and closes the open ones spread over the window. */
  async drain(windowMs: number): Promise<void> {
    this.#admission.startDraining();
    const sessions = [...this.#admission.sessions];
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
    for (const session of [...this.#admission.sessions]) session.close('drain');
  }
}
