// Whether a user is looking: which users have a stream open on this node, recorded in the
// store for the users with a push subscription, so an `auto` push decided on any node
// knows whether the user had a stream open anywhere during its delay.
//
// Each node keeps, per user, a time until which it knew them connected: while a stream is
// open, a time ahead (HOLD_MS), renewed well before it runs out; once the last one closes,
// the time it closed. A node that dies stops renewing, and its users count as away once
// their time passes. The user was present during a push's delay when some node's time for
// them is at or after the push was queued.
import type { Logger } from '../log.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { PushStore } from '../store/push-store.js';

/** What the hub tells about its streams: a user's first stream here opened, their last one closed. */
export interface PresenceListener {
  opened(user: string): void;
  closed(user: string): void;
}

/** How far ahead an open stream's time is written (a dead node's users count as present this long at most). */
export const HOLD_MS = 60_000;
/** Open streams' times are renewed this often: far inside HOLD_MS. */
const RENEW_MS = HOLD_MS / 3;
/** How often changes are written by default, ms. */
const FLUSH_MS = 250;
/** Closed users are remembered here this long for the node's own decisions; the store keeps them longer. */
const LOCAL_MEMORY_MS = 10 * 60_000;

export interface PresenceOptions {
  store: PushStore;
  /** This node's name in the store (a random id per process). */
  node: string;
  log: Logger;
  clock?: Clock;
  /** How often changes are written, ms (default 250): a decision on another node sees a change this late at most. */
  flushMs?: number;
}

export class PresenceRecorder implements PresenceListener {
  readonly #options: PresenceOptions;
  readonly #clock: Clock;
  readonly #open = new Set<string>();
  /** When each user's last stream here closed (ms). */
  readonly #closedAt = new Map<string, number>();
  /** Users whose state changed since the last write. */
  readonly #dirty = new Set<string>();
  #renewedAt = -Infinity;
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> = Promise.resolve();

  constructor(options: PresenceOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** This node's name in the store. */
  get node(): string {
    return this.#options.node;
  }

  opened(user: string): void {
    this.#open.add(user);
    this.#closedAt.delete(user);
    this.#dirty.add(user);
  }

  closed(user: string): void {
    this.#open.delete(user);
    this.#closedAt.set(user, this.#clock.now());
    this.#dirty.add(user);
  }

  /**
   * True when the user has a stream open here now, or had one at or after `sinceMs`: this
   * node's own answer, exact where its record in the store may lag a flush behind.
   */
  seenHereSince(user: string, sinceMs: number): boolean {
    return this.#open.has(user) || (this.#closedAt.get(user) ?? -Infinity) >= sinceMs;
  }

  start(): void {
    const tick = (): void => {
      void this.flush().finally(() => {
        if (this.#timer !== null) this.#timer = setTimeout(tick, this.#options.flushMs ?? FLUSH_MS).unref();
      });
    };
    this.#timer = setTimeout(tick, this.#options.flushMs ?? FLUSH_MS).unref();
  }

  /** Writes what changed, and every open user's time when it is due for renewal. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  async #write(): Promise<void> {
    const now = this.#clock.now();
    const renew = now - this.#renewedAt >= RENEW_MS;
    const users = renew ? new Set([...this.#open, ...this.#dirty]) : new Set(this.#dirty);
    this.#dirty.clear();
    for (const [user, at] of this.#closedAt) if (now - at > LOCAL_MEMORY_MS) this.#closedAt.delete(user);
    if (users.size === 0) return;
    const until = new Date(now + HOLD_MS).toISOString();
    const entries = [...users].map((user): [string, string] => [user, this.#open.has(user) ? until : new Date(this.#closedAt.get(user) ?? now).toISOString()]);
    try {
      await this.#options.store.recordPresence(this.#options.node, entries);
      if (renew) this.#renewedAt = now;
    } catch (err) {
      // Written with the next flush: the users are marked again.
      for (const user of users) this.#dirty.add(user);
      this.#options.log.warn({ err }, 'could not record which users have streams open; retrying');
    }
  }

  /** Stops the timer after a last write (the streams closed by then are recorded as closed). */
  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.flush();
  }
}
