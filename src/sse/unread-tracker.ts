import type { UnreadSnapshot } from '../store/store.js';

/** What a count is: the number, and the topic heads it was counted at. */
export type CountSnapshot = Pick<UnreadSnapshot, 'unread' | 'heads'>;

/** Hidden ranges kept per topic for the snapshot correction; older ones are dropped first. */
const MAX_HIDDEN_RANGES = 256;

/**
 * Keeps one audience's unread count exact without a query per event: the count is known
 * as of a snapshot of topic heads, and every notification is one sequence number, so a
 * delivered event beyond the counted head adds exactly the difference. Positions the
 * audience does not see (a muted type) move the counted head without counting.
 */
export class UnreadTracker {
  #unread: number;
  // The highest sequence counted per topic, in slots parallel to #topics (an audience is a
  // few topics; a Map per audience costs more memory than the scan costs time).
  readonly #topics: string[];
  readonly #counted: number[];
  /** Per topic, the [from, to] ranges passed over as hidden since the last snapshot; null while none. */
  #hidden: Map<string, Array<[number, number]>> | null = null;

  constructor(snapshot: CountSnapshot) {
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

  /** The positions of `topic` up to `seq` that are not counted yet are hidden from this audience. */
  onHidden(topic: string, seq: number): void {
    const slot = this.#slot(topic);
    const counted = this.#counted[slot] as number;
    if (seq <= counted) return;
    this.#counted[slot] = seq;
    this.#hidden ??= new Map();
    let ranges = this.#hidden.get(topic);
    if (!ranges) this.#hidden.set(topic, (ranges = []));
    const last = ranges[ranges.length - 1];
    if (last && last[1] === counted) last[1] = seq;
    else if (ranges.push([counted + 1, seq]) > MAX_HIDDEN_RANGES) ranges.shift();
  }

  /** A fresh count from the store (after a read/unread change), taken at its own heads. */
  onSnapshot(snapshot: CountSnapshot): void {
    let unread = snapshot.unread;
    for (const [topic, head] of snapshot.heads) {
      const slot = this.#slot(topic);
      const counted = this.#counted[slot] as number;
      // Events this node already counted but the snapshot predates are still unread
      // (except the hidden ones among them).
      if (counted > head) unread += counted - head - this.#hiddenAbove(topic, head);
      else {
        this.#counted[slot] = head;
        this.#hidden?.delete(topic);
      }
    }
    this.#unread = unread;
  }

  /** Hidden positions above `head`; forgets those at or below it (a later snapshot covers them). */
  #hiddenAbove(topic: string, head: number): number {
    const ranges = this.#hidden?.get(topic);
    if (!ranges || !this.#hidden) return 0;
    let hidden = 0;
    const kept: Array<[number, number]> = [];
    for (const [from, to] of ranges) {
      if (to <= head) continue;
      const start = Math.max(from, head + 1);
      hidden += to - start + 1;
      kept.push([start, to]);
    }
    if (kept.length > 0) this.#hidden.set(topic, kept);
    else this.#hidden.delete(topic);
    return hidden;
  }
}
