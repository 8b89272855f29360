/**
 * Where one reader stands on each topic of its audience: the last sequence sent and the
 * hash of that event's id (for the cursor's check). Slots parallel to the audience's topic
 * list rather than Maps: an idle stream should cost little memory, and audiences are a few
 * topics (the user's, broadcast, its groups), so a scan finds a slot quickly.
 */
export class TopicPositions {
  readonly #topics: readonly string[];
  readonly #seqs: number[];
  readonly #hashes: number[];

  constructor(topics: readonly string[]) {
    this.#topics = topics;
    this.#seqs = topics.map(() => 0);
    this.#hashes = topics.map(() => 0);
  }

  /** The last sequence sent on `topic`; undefined for a topic outside the audience. */
  get(topic: string): number | undefined {
    const slot = this.#topics.indexOf(topic);
    return slot === -1 ? undefined : this.#seqs[slot];
  }

  /** Moves `topic` to `seq` whose id hashes to `hash`; answers the hash it replaces. */
  set(topic: string, seq: number, hash: number): number {
    const slot = this.#topics.indexOf(topic);
    if (slot === -1) return 0;
    const previous = this.#hashes[slot] as number;
    this.#seqs[slot] = seq;
    this.#hashes[slot] = hash;
    return previous;
  }
}
