import type { Logger } from 'pino';
import { inboxUpdate, type RemovedNotification, type UpdatePayload } from '../bus/bus.js';
import { muteMatcher } from '../domain/preferences.js';
import type { Audience, NotificationStore, UnreadSnapshot } from '../store/store.js';
import { RecountQueue } from './recount-queue.js';
import type { MuteState, StreamSession } from './session.js';
import { UnreadTracker } from './unread-tracker.js';

export interface AudienceCountsDeps {
  store: NotificationStore;
  log: Logger;
  /** The user's streams on this node (src/sse/admission.ts), or undefined when none. */
  streamsOf(user: string): ReadonlySet<StreamSession> | undefined;
}

/** The count shared by every started session of one audience, and the order of the snapshot it holds. */
export interface AudienceCount {
  readonly tracker: UnreadTracker;
  readonly audience: Audience;
  sessions: number;
  /** Order number of the newest snapshot applied: an older one finishing later is ignored. */
  appliedOrder: number;
}

/** A snapshot read from the store, with the order in which its read started. */
export interface OrderedSnapshot {
  snapshot: UnreadSnapshot;
  order: number;
}

/** One user's mutes on this node, and the order of the snapshot they came from. */
interface UserMutes extends MuteState {
  order: number;
}

/** The inbox change sent when a count was corrected without a known cause (after a fault). */
const COUNT_REFRESH: UpdatePayload = inboxUpdate();

/** Ids one `notification.expired` event names at most; past it, `more: true` asks for a refetch. */
export const MAX_EXPIRED_IDS = 100;

/**
 * The unread counts of the audiences streaming from this node, one per audience however
 * many streams share it, and each connected user's mutes (once per user). A count is kept
 * exact between snapshots by the sessions (UnreadTracker); an inbox change, an expiry, an
 * ended snooze or a lost bus message makes the node re-read it, and the newest snapshot
 * started wins whatever order they finish in. Then the audience's streams are told.
 */
export class AudienceCounts {
  readonly #store: NotificationStore;
  readonly #log: Logger;
  readonly #streamsOf: (user: string) => ReadonlySet<StreamSession> | undefined;
  readonly #counts = new Map<string, AudienceCount>();
  /** Per user with a stream here (not per stream): loaded with each count, replaced on a change. */
  readonly #mutes = new Map<string, UserMutes>();
  #snapshotOrder = 0;
  /** Recounts of many audiences at once (expiry, resync), interleaved with everything else. */
  readonly #recounts: RecountQueue<AudienceCount>;

  constructor(deps: AudienceCountsDeps) {
    this.#store = deps.store;
    this.#log = deps.log;
    this.#streamsOf = deps.streamsOf;
    this.#recounts = new RecountQueue((entry) => this.refresh(entry), (err) => this.#log.warn({ err }, 'could not refresh an unread count'));
  }

  /** Audiences counted here. */
  get size(): number {
    return this.#counts.size;
  }

  /** Gives the session its user's shared mutes (at register, with its slot). */
  register(session: StreamSession): void {
    let mutes = this.#mutes.get(session.user);
    if (!mutes) this.#mutes.set(session.user, (mutes = { matcher: null, types: [], order: 0 }));
    session.mutes = mutes;
  }

  /** Lets go of a closed session (after its slot was freed): its count, and its user's mutes when it was the last. */
  leave(session: StreamSession): void {
    if (this.#streamsOf(session.user) === undefined) this.#mutes.delete(session.user);
    if (session.started) {
      const entry = this.#counts.get(session.audienceKey);
      if (entry && --entry.sessions === 0) this.#counts.delete(session.audienceKey);
    }
  }

  /** Reads the audience's count, heads and mutes in one snapshot, ordered against every other read. */
  async read(audience: Audience): Promise<OrderedSnapshot> {
    const order = ++this.#snapshotOrder;
    return { snapshot: await this.#store.unreadSnapshot(audience), order };
  }

  /** Takes the user's mutes from a snapshot newer than the one they came from; true when they changed. */
  takeMutes(user: string, { snapshot, order }: OrderedSnapshot): boolean {
    const mutes = this.#mutes.get(user);
    if (!mutes || order <= mutes.order) return false;
    mutes.order = order;
    const types = snapshot.mutedTypes;
    if (types.length === mutes.types.length && types.every((type, i) => type === mutes.types[i])) return false;
    mutes.types = types;
    mutes.matcher = muteMatcher(types);
    return true;
  }

  /** The count a starting session shares with its audience, set from `read` unless a newer snapshot is held. */
  attach(session: StreamSession, { snapshot, order }: OrderedSnapshot): AudienceCount {
    let entry = this.#counts.get(session.audienceKey);
    if (!entry) {
      entry = { tracker: new UnreadTracker(snapshot), audience: session.audience, sessions: 0, appliedOrder: order };
      this.#counts.set(session.audienceKey, entry);
    } else if (order > entry.appliedOrder) {
      entry.appliedOrder = order;
      entry.tracker.onSnapshot(snapshot);
    }
    entry.sessions += 1;
    return entry;
  }

  /**
   * Reads the audience's count (and its user's mutes) again; the newest snapshot started
   * wins whatever order they finish in. True when the mutes changed.
   */
  async refresh(entry: AudienceCount): Promise<boolean> {
    const read = await this.read(entry.audience);
    const mutesChanged = this.takeMutes(entry.audience.user, read);
    if (read.order <= entry.appliedOrder) return mutesChanged;
    entry.appliedOrder = read.order;
    entry.tracker.onSnapshot(read.snapshot);
    return mutesChanged;
  }

  #sessionsOf(user: string, key: string): StreamSession[] {
    return [...(this.#streamsOf(user) ?? [])].filter((session) => session.audienceKey === key);
  }

  /**
   * An inbox change of `user` (on any node), or a change of their preferences: recount each
   * of the user's audiences (re-reading the mutes with it), then tell its streams.
   */
  updated(user: string, update: UpdatePayload, preferences: boolean): void {
    const sessions = this.#streamsOf(user);
    if (!sessions) return;
    const tell = (session: StreamSession) => (preferences ? session.preferencesUpdated() : session.update(update));
    const keys = new Set([...sessions].map((session) => session.audienceKey));
    for (const key of keys) {
      const entry = this.#counts.get(key);
      // Not started yet: the sessions hold the change and recount when they start.
      if (!entry) {
        for (const session of this.#sessionsOf(user, key)) tell(session);
        continue;
      }
      this.refresh(entry).then(() => {
        for (const session of this.#sessionsOf(user, key)) tell(session);
      }, (err: unknown) => this.#log.warn({ err }, 'could not refresh an unread count'));
    }
  }

  /** Snoozes of `user` ended by time: recount and tell the user's streams here. */
  woken(user: string, ids: string[]): void {
    this.updated(user, inboxUpdate({ ids, snoozed_until: null }), false);
  }

  /**
   * Notifications passed their expiry or retention deleted them: every audience here that
   * follows one of their topics recounts, then its streams hear which ids left.
   */
  expired(notifications: readonly RemovedNotification[]): void {
    const byTopic = new Map<string, string[]>();
    for (const { topic, id } of notifications) {
      const ids = byTopic.get(topic);
      if (ids) ids.push(id);
      else byTopic.set(topic, [id]);
    }
    for (const [key, entry] of this.#counts) {
      const { ids, more } = expiredOf(entry.audience.topics, byTopic);
      if (ids.length === 0) continue;
      this.#recounts.add(entry, () => {
        for (const session of this.#sessionsOf(entry.audience.user, key)) {
          // One still opening has not sent `ready`; its replay leaves the expired out anyway.
          if (session.started && !session.closed) {
            session.writeEvent('notification.expired', { ids, unread_count: session.unread, ...(more ? { more: true } : {}) }, false);
          }
        }
      });
    }
  }

  /** The bus may have lost inbox changes: recount every audience, and tell those whose count or mutes moved. */
  recountAll(): void {
    for (const [key, entry] of this.#counts) {
      const before = entry.tracker.unread;
      this.#recounts.add(entry, (mutesChanged) => {
        // A lost change of preferences is told as one (it carries the count too).
        if (mutesChanged) for (const session of this.#streamsOf(entry.audience.user) ?? []) session.preferencesUpdated();
        else if (entry.tracker.unread === before) return;
        else for (const session of this.#sessionsOf(entry.audience.user, key)) session.update(COUNT_REFRESH);
      });
    }
  }
}

/** The expired ids an audience follows, at most MAX_EXPIRED_IDS of them, and whether there were more. */
function expiredOf(topics: readonly string[], byTopic: ReadonlyMap<string, string[]>): { ids: string[]; more: boolean } {
  let ids: string[] = [];
  let more = false;
  for (const topic of topics) {
    const expired = byTopic.get(topic);
    if (!expired) continue;
    if (ids.length + expired.length > MAX_EXPIRED_IDS) {
      more = true;
      ids = ids.concat(expired.slice(0, MAX_EXPIRED_IDS - ids.length));
      break;
    }
    // One topic's list as it is (shared by every reader of a broadcast, not copied).
    ids = ids.length === 0 ? expired : ids.concat(expired);
  }
  return { ids, more };
}
