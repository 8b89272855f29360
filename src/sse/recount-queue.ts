import { setImmediate } from 'node:timers/promises';

/**
 * Recounts that come in bulk (a broadcast expiring, a broker reconnect: every audience on
 * the node at once) run one at a time, yielding to the event loop between them. On SQLite a
 * count is synchronous work on this loop: thousands back to back held it for seconds, and
 * every request, stream and heartbeat of the node with it. An audience queued twice is
 * counted once, and everyone who asked is told.
 */
export class RecountQueue<K> {
  readonly #recount: (key: K) => Promise<boolean>;
  readonly #onError: (err: unknown) => void;
  readonly #waiting = new Map<K, Array<(changed: boolean) => void>>();
  #running = false;

  /** `recount` answers whether more than the count changed (the user's mutes). */
  constructor(recount: (key: K) => Promise<boolean>, onError: (err: unknown) => void) {
    this.#recount = recount;
    this.#onError = onError;
  }

  /** Recounts `key` soon; `then` runs after, with what `recount` answered (not on failure). */
  add(key: K, then: (changed: boolean) => void): void {
    const waiting = this.#waiting.get(key);
    if (waiting) waiting.push(then);
    else this.#waiting.set(key, [then]);
    if (!this.#running) void this.#drain();
  }

  get pending(): number {
    return this.#waiting.size;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      for (const [key, thens] of this.#waiting) {
        this.#waiting.delete(key);
        try {
          const changed = await this.#recount(key);
          for (const then of thens) then(changed);
        } catch (err) {
          this.#onError(err);
        }
        await setImmediate();
      }
    } finally {
      this.#running = false;
    }
  }
}
