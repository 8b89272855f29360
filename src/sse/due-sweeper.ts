// One periodic look per node at what fell due by time: notifications past their expiry and
// snoozes that ended. Each node sweeps the window since its own last sweep and tells only
// its own streams, so no bus message is needed and every node tells its readers once.
import type { Logger } from 'pino';
import { setImmediate } from 'node:timers/promises';
import type { ExpiryPageStart, NotificationStore } from '../store/store.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { Hub } from './hub.js';

export interface DueSweeperOptions {
  store: NotificationStore;
  hub: Pick<Hub, 'size' | 'expired' | 'woken'>;
  log: Logger;
  clock?: Clock;
  /** Time between sweeps (ms; default 1000): how late a stream may hear of an expiry or a wake. */
  intervalMs?: number;
  /** Expired notifications read per page (default 1000). */
  pageSize?: number;
}

export class DueSweeper {
  readonly #options: DueSweeperOptions;
  readonly #clock: Clock;
  #last: string;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  readonly #pageSize: number;

  constructor(options: DueSweeperOptions) {
    this.#options = options;
    this.#pageSize = options.pageSize ?? 1000;
    this.#clock = options.clock ?? systemClock;
    // What was due before this node started reached its streams through their snapshots.
    this.#last = this.#nowIso();
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.#options.log.warn({ err }, 'could not sweep expiries and snoozes; will retry'));
    }, this.#options.intervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Tells this node's streams what expired or woke since the last sweep. One runs at a time. */
  async sweep(): Promise<void> {
    while (this.#running) await this.#running;
    this.#running = this.#sweep();
    try {
      await this.#running;
    } finally {
      this.#running = null;
    }
  }

  async #sweep(): Promise<void> {
    const now = this.#nowIso();
    if (now <= this.#last) return;
    const { hub } = this.#options;
    // No streams, nobody to tell: move on without reading.
    if (hub.size > 0) {
      await this.#sweepExpired(now);
      await this.#sweepWoken(now);
    }
    // Only after a successful read: a failed sweep's window is swept again next time.
    this.#last = now;
  }

  /** In pages, yielding to the event loop between them: one second may hold thousands. */
  async #sweepExpired(now: string): Promise<void> {
    const { store, hub } = this.#options;
    let start: ExpiryPageStart = { after: this.#last, id: null };
    for (;;) {
      const page = await store.expiredBetween(start, now, this.#pageSize);
      if (page.length > 0) hub.expired(page);
      const last = page[page.length - 1];
      if (page.length < this.#pageSize || last === undefined) return;
      start = { after: last.expires_at, id: last.id };
      await setImmediate();
    }
  }

  async #sweepWoken(now: string): Promise<void> {
    const { store, hub } = this.#options;
    const woken = await store.wokenBetween(this.#last, now);
    const byUser = new Map<string, string[]>();
    for (const { user, id } of woken) {
      const ids = byUser.get(user);
      if (ids) ids.push(id);
      else byUser.set(user, [id]);
    }
    for (const [user, ids] of byUser) hub.woken(user, ids);
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    while (this.#running) await this.#running;
  }

  #nowIso(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}
