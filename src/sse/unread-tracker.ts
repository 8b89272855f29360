import type { UnreadSnapshot } from '../store/store.js';

/**
 * Keeps one audience's unread count exact without a query per event: the count is known
 * as of a snapshot of topic heads, and every notification is one sequence number, so a
 * delivered event beyond the counted head adds exactly the difference.
 */
export class UnreadTracker {
  #unread: number;
  readonly #counted: Map<string, number>;

  constructor(snapshot: UnreadSnapshot) {
    this.#unread = snapshot.unread;
    this.#counted = new Map(snapshot.heads);
  }

  get unread(): number {
    return this.#unread;
  }

  /** A new notification at `seq` of `topic` reached this audience (repeats are harmless). */
  onEvent(topic: string, seq: number): void {
    const counted = this.#counted.get(topic) ?? 0;
    if (seq > counted) {
      this.#unread += seq - counted;
      this.#counted.set(topic, seq);
    }
  }

  /** A fresh count from the store (after a read/unread change), taken at its own heads. */
  onSnapshot(snapshot: UnreadSnapshot): void {
    let unread = snapshot.unread;
    for (const [topic, head] of snapshot.heads) {
      const counted = this.#counted.get(topic) ?? 0;
      // Events this node already counted but the snapshot predates are still unread.
      if (counted > head) unread += counted - head;
      else this.#counted.set(topic, head);
    }
    this.#unread = unread;
  }
}
