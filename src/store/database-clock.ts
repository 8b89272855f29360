// A node's time, set by the database's. Nodes of one cluster judge the same moments (a
// schedule falling due, an expiry, a snooze ending, a token's exp, retention's cutoff); a
// node whose own clock is off (a VM without NTP, a clock set by hand) would judge them early
// or late by its error, and a token-bearing client would be refused by one node and not
// another. The offset is measured against PostgreSQL's clock_timestamp() now and then, from
// the round trip with the smallest delay (its error is at most half of that round trip).
import { systemClock, type Clock } from '../domain/clock.js';

/** Round trips per measurement: the shortest one bounds the error best. */
const SAMPLES = 3;

export class DatabaseClock implements Clock {
  #offsetMs = 0;
  #read: (() => Promise<number>) | null = null;
  #timer: NodeJS.Timeout | null = null;

  readonly #base: Clock;
  readonly #onMeasured: (offsetMs: number, errorMs: number) => void;

  /** `onMeasured` hears each measured offset (database minus this node) and its error bound. */
  constructor(onMeasured: (offsetMs: number, errorMs: number) => void, base: Clock = systemClock) {
    this.#onMeasured = onMeasured;
    this.#base = base;
  }

  now(): number {
    return this.#base.now() + this.#offsetMs;
  }

  /** The database's time minus this node's, as last measured. */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** Measures the offset now with `read` (the database's time in ms), then every `intervalMs`. */
  async start(read: () => Promise<number>, intervalMs: number, onError: (err: unknown) => void): Promise<void> {
    this.#read = read;
    await this.measure();
    this.#timer = setInterval(() => void this.measure().catch(onError), intervalMs);
    this.#timer.unref();
  }

  async measure(): Promise<void> {
    const read = this.#read;
    if (!read) return;
    let best: { offsetMs: number; roundTripMs: number } | null = null;
    for (let i = 0; i < SAMPLES; i++) {
      const sent = this.#base.now();
      const database = await read();
      const received = this.#base.now();
      const sample = { offsetMs: database - (sent + received) / 2, roundTripMs: received - sent };
      if (best === null || sample.roundTripMs < best.roundTripMs) best = sample;
    }
    if (best === null) return;
    this.#offsetMs = best.offsetMs;
    this.#onMeasured(best.offsetMs, best.roundTripMs / 2);
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
