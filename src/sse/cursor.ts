// The stream cursor, sent as the `id:` of every event and returned as Last-Event-ID:
//   `<epoch>.<user seq>.<broadcast seq>.k<check>[.<group key>:<seq>]*`
// It rides on every event and in a header that CORS preflights when long, so it stays
// short and ASCII: a group is keyed by its name when that is short, else by a hash of it
// (`~` + base36), so a user with 100 long group names still resumes with a ~1.5 KB cursor.
// `check` binds the cursor to the database's content: it folds in the id of the last
// event seen on each topic, so a restored backup whose heads pass the cursor again (with
// other events at those positions) is detected and answered with `reset`.
import { BROADCAST, groupName, groupTopic, isValidGroupName, userTopic, type Audience } from '../domain/topics.js';

export interface Cursor {
  epoch: string;
  /** Last delivered sequence per topic of the audience. */
  seqs: Map<string, number>;
  /** The check over the ids at those positions; null for a cursor of the older form without one. */
  check: number | null;
  /** The cursor names groups this audience no longer follows (its check cannot be verified). */
  foreign: boolean;
}

const SEQ = /^\d{1,15}$/;
const CHECK = /^k[0-9a-z]{1,7}$/;
/** Group names up to this length are their own key; longer ones are hashed. */
const SHORT_NAME = 8;
/** The longest cursor accepted: 100 groups of hashed keys fit well inside it. */
export const MAX_CURSOR_CHARS = 4096;

/** FNV-1a, 32 bits: cheap, stable across processes, good enough to key and check. */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The last sequence per topic a cursor is made of (a Map, or a session's positions). */
export interface SeqLookup {
  get(topic: string): number | undefined;
}

/** Encodes and decodes the cursors of one audience (its group keys are computed once). */
export class CursorFormat {
  readonly #epoch: string;
  readonly #userTopic: string;
  // Both only for an audience with groups: most streams have none, and two empty Maps per
  // stream cost ~300 bytes of an idle stream's memory.
  /** Group topic -> its key in the cursor. */
  #keys: Map<string, string> | null = null;
  /** Key -> group topic. */
  #topics: Map<string, string> | null = null;

  constructor(epoch: string, audience: Audience) {
    this.#epoch = epoch;
    // The audience's own copy of the string, not a second one per stream.
    const own = userTopic(audience.user);
    this.#userTopic = audience.topics.find((topic) => topic === own) ?? own;
    const hashed = new Map<string, string[]>();
    for (const topic of audience.topics) {
      const name = groupName(topic);
      if (name === null) continue;
      if (name.length <= SHORT_NAME) this.#setKey(topic, name);
      else {
        const key = `~${hash32(name).toString(36)}`;
        hashed.set(key, [...(hashed.get(key) ?? []), topic]);
      }
    }
    // Two of this audience's groups with one hash keep their names: never ambiguous.
    for (const [key, topics] of hashed) {
      if (topics.length === 1) this.#setKey(topics[0] as string, key);
      else for (const topic of topics) this.#setKey(topic, groupName(topic) as string);
    }
  }

  #setKey(topic: string, key: string): void {
    (this.#keys ??= new Map()).set(topic, key);
    (this.#topics ??= new Map()).set(key, topic);
  }

  encode(seqs: SeqLookup, check: number): string {
    let out = `${this.#epoch}.${seqs.get(this.#userTopic) ?? 0}.${seqs.get(BROADCAST) ?? 0}.k${(check >>> 0).toString(36)}`;
    if (this.#keys !== null) for (const [topic, key] of this.#keys) out += `.${key}:${seqs.get(topic) ?? 0}`;
    return out;
  }

  /** Parses a cursor; null when it is not one (the stream then answers `reset`). */
  decode(raw: string): Cursor | null {
    if (raw.length > MAX_CURSOR_CHARS) return null;
    const [epoch, userSeq, broadcastSeq, ...rest] = raw.split('.');
    if (!epoch || !/^[a-z0-9]{1,32}$/.test(epoch) || !SEQ.test(userSeq ?? '') || !SEQ.test(broadcastSeq ?? '')) return null;
    const seqs = new Map<string, number>([[this.#userTopic, Number(userSeq)], [BROADCAST, Number(broadcastSeq)]]);
    let check: number | null = null;
    let foreign = false;
    if (rest[0] !== undefined && CHECK.test(rest[0])) check = Number.parseInt((rest.shift() as string).slice(1), 36);
    for (const part of rest) {
      const [key, seq, extra] = part.split(':');
      if (extra !== undefined || !key || !SEQ.test(seq ?? '')) return null;
      if (!key.startsWith('~') && !isValidGroupName(key)) return null;
      // Older cursors key every group by its full name.
      const topic = this.#topics?.get(key) ?? (key.startsWith('~') ? undefined : groupTopic(key));
      if (topic === undefined || this.#keys?.has(topic) !== true) foreign = true;
      else seqs.set(topic, Number(seq));
    }
    return { epoch, seqs, check, foreign };
  }
}
