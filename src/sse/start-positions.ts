import type { NotificationStore } from '../store/store.js';
import { hash32, type Cursor } from './cursor.js';
import type { StartPosition, StreamSession } from './session.js';

/** Where an opening stream starts, per topic, and what it must be told. */
export interface StreamStart {
  positions: Map<string, StartPosition>;
  /** The client sent a cursor this node cannot resume: it gets `reset` and starts at the heads. */
  reset: boolean;
  /** Some topic starts below its head: there is a backlog to read from the store. */
  behind: boolean;
}

/**
 * Resolves the client's cursor against a snapshot's topic heads: it resumes when it names
 * this database, points at or below every head, and the ids at its positions still fold to
 * its check; otherwise every topic starts at its head. Null when the session closed meanwhile.
 */
export async function startPositions(
  store: NotificationStore, session: StreamSession, rawCursor: string | null, heads: ReadonlyMap<string, number>,
): Promise<StreamStart | null> {
  const { topics } = session.audience;
  const cursor = rawCursor === null ? null : session.cursorFormat.decode(rawCursor);
  let usable = cursor !== null && cursor.epoch === store.epoch && !cursor.foreign &&
    [...cursor.seqs].every(([topic, seq]) => seq <= (heads.get(topic) ?? 0));
  // The ids at the cursor's positions and at the heads, in one read.
  const wanted: Array<[string, number]> = [];
  for (const topic of topics) {
    const head = heads.get(topic) ?? 0;
    if (head > 0) wanted.push([topic, head]);
    const seq = usable ? cursor?.seqs.get(topic) : undefined;
    if (seq !== undefined && seq > 0 && seq !== head) wanted.push([topic, seq]);
  }
  const ids = await store.idsAt(wanted);
  if (session.closed) return null;
  if (usable && cursor) usable = await cursorResumes(store, cursor, ids);
  if (session.closed) return null;

  const positions = new Map<string, StartPosition>();
  let behind = false;
  for (const topic of topics) {
    const head = heads.get(topic) ?? 0;
    const seq = (usable ? cursor?.seqs.get(topic) : undefined) ?? head;
    positions.set(topic, { seq, id: seq === 0 ? null : (ids.get(`${topic}\n${seq}`) ?? null) });
    if (seq < head) behind = true;
  }
  return { positions, reset: rawCursor !== null && !usable, behind };
}

/**
 * True when the ids at the cursor's positions fold to its check (a cursor without one is
 * trusted). A position whose row retention deleted cannot be checked; when nothing after
 * it was deleted too, the reader missed nothing and resumes (the check, which may hold the
 * deleted id, is then not judged); otherwise it missed purged events and is reset.
 */
async function cursorResumes(store: NotificationStore, cursor: Cursor, ids: ReadonlyMap<string, string>): Promise<boolean> {
  let folded = 0;
  let checkable = cursor.check !== null;
  for (const [topic, seq] of cursor.seqs) {
    if (seq === 0) continue;
    const id = ids.get(`${topic}\n${seq}`);
    if (id !== undefined) {
      folded ^= hash32(id);
    } else {
      if (seq < (await store.lowestKeptSeq(topic)) - 1) return false;
      checkable = false;
    }
  }
  return !checkable || folded >>> 0 === cursor.check;
}
