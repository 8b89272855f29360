/**
 * The ids a stream delivered lately, to drop an event seen twice (a replay after a reconnect
 * overlaps what arrived live; a new leader tab resumes from the cursor its followers last
 * saw). Bounded: past `limit` ids the oldest is forgotten, so memory stays flat on a stream
 * that runs for days; a repeat older than the window is no longer caught.
 */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #limit: number;

  /** @param limit how many ids to remember; at least 1. */
  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  /** Remembers `id`; false when it was remembered already (the event is a repeat). */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    // A Set iterates in insertion order, so its first value is the oldest id.
    if (this.#ids.size > this.#limit) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.#ids.size;
  }
}
