// Delivers scheduled notifications when they fall due: each is moved into its topic by the
// store (claimed and inserted in one transaction) and then hinted on the bus like any
// publish, so every node's streams get it as an ordinary `notification` event.
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Metrics } from '../metrics.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { NotificationStore } from '../store/store.js';

export interface SchedulerOptions {
  store: NotificationStore;
  bus: Bus;
  log: Logger;
  /** Deliveries count in herald_published_total{source="scheduled"}: that is when they are stored in a topic. */
  metrics?: Pick<Metrics, 'published'>;
  clock?: Clock;
  /** Longest wait between two looks at the table (ms; default 1000): bounds how late a delivery can be. */
  maxWaitMs?: number;
  /** Rows claimed per transaction (default 200). */
  batchSize?: number;
}

/** The shortest pause between two looks the scheduler takes by itself (ms). */
const RECHECK_MS = 50;

export class Scheduler {
  readonly #store: NotificationStore;
  readonly #bus: Bus;
  readonly #log: Logger;
  readonly #metrics: Pick<Metrics, 'published'> | undefined;
  readonly #clock: Clock;
  readonly #maxWaitMs: number;
  readonly #batchSize: number;
  #timer: NodeJS.Timeout | null = null;
  /** When (Date.now()) the armed timer fires: a nearer due time re-arms it. */
  #timerAt = Infinity;
  #started = false;
  /** Deliveries run one at a time, in order. */
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#bus = options.bus;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#clock = options.clock ?? systemClock;
    this.#maxWaitMs = options.maxWaitMs ?? 1000;
    this.#batchSize = options.batchSize ?? 200;
  }

  /** The first look delivers whatever fell due while Herald was down. Until then no timer is set (tests tick by hand). */
  start(): void {
    this.#started = true;
    this.#arm(0);
  }

  /** A publish was scheduled for `deliverAt` (ISO): look then if that is sooner than planned. */
  wake(deliverAt: string): void {
    this.#arm(this.#delayUntil(Date.parse(deliverAt)));
  }

  /** Delivers everything due at the clock's now; answers how many were delivered. */
  tick(): Promise<number> {
    const run = this.#chain.then(() => this.#deliverDue());
    this.#chain = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#chain;
  }

  async #deliverDue(): Promise<number> {
    let delivered = 0;
    for (;;) {
      if (this.#closed) return delivered;
      const events = await this.#store.deliverDue(new Date(this.#clock.now()).toISOString(), this.#batchSize);
      delivered += events.length;
      if (events.length > 0) this.#metrics?.published.inc({ source: 'scheduled' }, events.length);
      // A lost hint loses nothing: the rows are committed and nodes resync from the store.
      await Promise.all(events.map((event) => this.#bus.publish({ kind: 'notification', event }).catch(() => {})));
      if (events.length < this.#batchSize) return delivered;
    }
  }

  #delayUntil(atMs: number): number {
    return Math.min(this.#maxWaitMs, Math.max(0, atMs - this.#clock.now()));
  }

  #arm(delayMs: number): void {
    if (this.#closed || !this.#started) return;
    const at = Date.now() + delayMs;
    if (this.#timer && this.#timerAt <= at) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      void this.#run();
    }, delayMs);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    let next: string | null = null;
    try {
      await this.tick();
      next = await this.#store.nextDueAt();
    } catch (err) {
      // The database is away or busy: the next look retries.
      this.#log.warn({ err }, 'could not deliver scheduled notifications; will retry');
    }
    // Still due right after a delivery: rows another node is delivering (skipped while
    // locked) or just published. Look again shortly rather than spin on them.
    this.#arm(next === null ? this.#maxWaitMs : Math.max(RECHECK_MS, this.#delayUntil(Date.parse(next))));
  }
}
