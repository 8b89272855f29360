import type { UnreadSnapshot } from '../store/store.js';

/**
 * Keeps one audience's unread count exact without a query per event: the count is known
 * as of a snapshot of topic heads, and every notification is one sequence number, so a
 * delivered event beyond the counted head adds exactly the difference.
 */
export class UnreadTracker {
  #unread: number;
  // The highest sequence counted per topic, in slots parallel to #topics (an audience is a
  // few topics; a Map per audience costs more memory than the scan costs time).
  readonly #topics: string[];
  readonly #counted: number[];

  constructor(snapshot: UnreadSnapshot) {
    this.#unread = snapshot.unread;
    this.#topics = [...snapshot.heads.keys()];
    this.#counted = [...snapshot.heads.values()];
  }

  #slot(topic: string): number {
    const slot = this.#topics.indexOf(topic);
    if (slot !== -1) return slot;
    this.#topics.push(topic);
    return this.#counted.push(0) - 1;
  }

  get unread(): number {
    return this.#unread;
  }

  /** A new notification at `seq` of `topic` reached this audience (repeats are harmless). */
  onEvent(topic: string, seq: number): void {
    const slot = this.#slot(topic);
    const counted = this.#counted[slot] as number;
    if (seq > counted) {
      this.#unread += seq - counted;
      this.#counted[slot] = seq;
    }
  }

  /** A fresh count from the store (after a read/unread change), taken at its own heads. */
  onSnapshot(snapshot: UnreadSnapshot): void {
    let unread = snapshot.unread;
    for (const [topic, head] of snapshot.heads) {
      const slot = this.#slot(topic);
      const counted = this.#counted[slot] as number;
      // Events this node already counted but the snapshot predates are still unread.
      if (counted > head) unread += counted - head;
      else this.#counted[slot] = head;
    }
    this.#unread = unread;
  }
}
