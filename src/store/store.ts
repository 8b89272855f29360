// The storage interface. SQLite and PostgreSQL implement it; nothing outside src/store
// knows which one runs.
import type { Audience } from '../domain/topics.js';
import type { CommitObserver, Outcome } from './group-commit.js';
import type { RetentionStore } from './retention.js';
import type { PushStore } from './push-store.js';

export type { Audience, Outcome };

export type { Notification, NotificationStatus, TopicEvent } from '../domain/notification.js';
import type { Notification, NotificationStatus, TopicEvent } from '../domain/notification.js';

/** When a publish is pushed to its recipients' browsers (README.md, "Web Push"); default `auto`. */
export type PushPolicy = 'auto' | 'always' | 'never';

export interface PublishRequest {
  /** The publisher's identity (token sub or AMQP `publisher`), scope of the idempotency key. */
  publisher: string;
  idempotencyKey: string | null;
  /** Hash of the canonical request body: same key + other body is a conflict. Empty without a key. */
  requestHash: string;
  /** Each recipient gets its own notification on its private topic `user:<id>`. */
  recipients: string[] | null;
  /** A shared topic: `broadcast` or `group:<name>`. Exclusive with recipients. */
  topic: string | null;
  type: string;
  title: string | null;
  content: string;
  data: Record<string, unknown> | null;
  /** Delivered even to recipients and readers who muted its type. */
  critical: boolean;
  /** ISO time (UTC) to deliver at; null: now. Kept out of the notifications table until due. */
  deliverAt?: string | null;
  /** ISO time (UTC) after which it is no longer listed, counted or replayed; null: never. */
  expiresAt?: string | null;
  /** Web Push policy for the recipients; absent: `auto`. Topic notifications are not pushed. */
  push?: PushPolicy;
}

/** A notification accepted for later delivery: not yet in any topic's sequence. */
export interface ScheduledNotification {
  notification: Notification;
  deliver_at: string;
}

export interface PublishResult {
  events: TopicEvent[];
  /** True when the idempotency key matched an earlier publish: nothing new was stored. */
  replayed: boolean;
  /** Accepted for later delivery (a publish with deliverAt): not in `events`. */
  scheduled?: ScheduledNotification[];
  /**
   * Recipients left out because they muted the type, in the order the publish named them.
   * Judged in the write's own transaction; absent on a replay (nothing was written).
   */
  suppressed?: string[];
}

/** Ids one bulk cancel may name (and a publish may have recipients). */
export const MAX_CANCEL_IDS = 1000;

/** What cancelling a scheduled notification came to. */
/** `expired`: its expires_at passed before it was delivered, so it never will be. */
export type CancelOutcome = 'cancelled' | 'already_delivered' | 'expired' | 'not_found';

/** A notification whose expiry passed in a sweep window. */
export interface ExpiredNotification {
  id: string;
  topic: string;
  /** When it expired (ISO): with `id`, where the next page of a sweep starts. */
  expires_at: string;
}

/** Where a page of expiries starts: after this expiry time, or at it for ids after `id`. */
export interface ExpiryPageStart {
  after: string;
  id: string | null;
}

/** A snooze that ended in a sweep window. */
export interface WokenSnooze {
  user: string;
  id: string;
}


export interface InboxQuery {
  /** `snoozed`: only what the reader snoozed until later; every other status leaves those out. */
  status: 'unread' | 'read' | 'all' | 'snoozed';
  type: string | null;
  /** Archived items only (true) or none of them (false). */
  archived: boolean;
  limit: number;
  /** Page cursor: only items older than this position. */
  before: number | null;
}

export interface InboxPage {
  items: Notification[];
  /** Position to pass as `before` for the next page, null on the last page. */
  nextBefore: number | null;
}

export interface StateChange {
  status?: NotificationStatus;
  archived?: boolean;
  seen?: boolean;
  /** ISO time (UTC) to hide it until; null wakes it now. */
  snoozedUntil?: string | null;
}

/** The unread count and the topic heads it was counted at, read in one snapshot. */
export interface UnreadSnapshot {
  unread: number;
  heads: Map<string, number>;
  /** The user's muted types as the count saw them (it leaves out muted topic notifications). */
  mutedTypes: string[];
}

/** A writer thread's V8 heap, in bytes: its own isolate's, outside the process's heap figures. */
export interface WriterHeap {
  used: number;
  total: number;
}

export interface NotificationStore {
  /** Names this database; cursors from another database are reset. Set by migrate(). */
  readonly epoch: string;
  migrate(): Promise<void>;
  /** Reads what migrate() sets (the epoch) from a database another process migrated (a worker's: src/cluster/). */
  attach(): Promise<void>;
  /**
   * Stores the notifications and assigns each topic's next sequence number in the same
   * transaction, under the topic's row lock, so sequence order is commit order.
   * Throws HeraldError('idempotency_conflict') when the key was used with another body.
   */
  publish(request: PublishRequest): Promise<PublishResult>;
  /**
   * publish() for each request, in one transaction for all of them (one commit answers them
   * all; scheduled ones are stored each in its own, as publish() stores them). One outcome
   * per request, in order: a request that fails (a key's conflict) fails alone. Rejects
   * only when nothing could be stored (the database is away).
   */
  publishBatch(requests: readonly PublishRequest[]): Promise<Array<Outcome<PublishResult>>>;
  /**
   * Events of a topic with seq > afterSeq, in sequence order. With a reader, each carries
   * that user's read/seen/archived state (a resumed stream shows what was already read),
   * and topic notifications of a type the reader muted are left out (critical ones stay).
   */
  eventsAfter(topic: string, afterSeq: number, limit: number, reader?: string): Promise<TopicEvent[]>;
  /** The notification ids at these (topic, seq) positions, keyed `${topic}\n${seq}`; absent rows are left out. */
  idsAt(positions: ReadonlyArray<readonly [string, number]>): Promise<Map<string, string>>;
  /** Current head (last sequence number, 0 when empty) of each topic. */
  heads(topics: readonly string[]): Promise<Map<string, number>>;
  unreadSnapshot(audience: Audience): Promise<UnreadSnapshot>;
  listInbox(audience: Audience, query: InboxQuery): Promise<InboxPage>;
  /** Applies the change when the notification is visible to the audience; null otherwise. */
  updateState(audience: Audience, id: string, change: StateChange): Promise<Notification | null>;
  /** Marks every visible notification read or seen, optionally only up to (and including) one id. */
  markAll(audience: Audience, what: 'read' | 'seen', upToId: string | null): Promise<number>;
  /**
   * Records a one-time credential (a stream ticket's `jti`) as used until `expiresAtMs`;
   * false when it was already used, on any node sharing this database.
   */
  redeemOnce(id: string, expiresAtMs: number): Promise<boolean>;
  /** The user's muted types (entries as `normalizeMutes` answers them), sorted; [] when none. */
  mutedTypes(user: string): Promise<string[]>;
  /** Replaces the user's muted types with these (already normalized) entries. */
  setMutedTypes(user: string, patterns: readonly string[]): Promise<void>;
  /** Which of these users muted `type` (exactly or by a prefix), in one query. */
  usersMuting(users: readonly string[], type: string): Promise<Set<string>>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  /** The database server's clock, ms since the epoch (what DatabaseClock sets nodes by). */
  databaseTimeMs(): Promise<number>;
  /** The V8 heap of the thread that writes a SQLite file, in bytes; null when writes run on the main thread (PostgreSQL, `:memory:`). */
  writerHeap?(): Promise<WriterHeap | null>;
  /** Reports each publish transaction's queue wait, duration and size (the metrics). */
  observeCommits?(observer: CommitObserver): void;
  close(): Promise<void>;
  /** Batched deletes for retention (src/store/retention.ts). */
  retention(): RetentionStore;
  /** Web Push subscriptions, queue and presence (src/store/push-store.ts). */
  push(): PushStore;
  /**
   * The lowest sequence number a topic still stores; head + 1 when retention deleted every
   * event (1 for a topic never published to). A cursor below it cannot be resumed.
   */
  lowestKeptSeq(topic: string): Promise<number>;
  /**
   * Moves scheduled notifications due at `now` (ISO) into their topics, at most `limit`, in
   * one transaction that claims them (on PostgreSQL skipping rows another node is
   * delivering), so each is delivered once. Answers the new events.
   */
  deliverDue(now: string, limit: number): Promise<TopicEvent[]>;
  /** The earliest deliver_at still waiting, or null. */
  nextDueAt(): Promise<string | null>;
  /** Cancels a scheduled notification of this publisher that is not delivered yet. */
  cancelScheduled(publisher: string, id: string): Promise<CancelOutcome>;
  /** cancelScheduled for each id (at most MAX_CANCEL_IDS), answering each id's outcome. */
  cancelScheduledMany(publisher: string, ids: readonly string[]): Promise<Map<string, CancelOutcome>>;
  /** The notification ids a publish of this publisher with this idempotency key made; null for an unknown key. */
  idsPublishedWithKey(publisher: string, key: string): Promise<string[] | null>;
  /** Notifications with `after` < expires_at <= `upTo` (ISO times). */
  /**
   * Notifications with `start` < (expires_at, id) and expires_at <= `upTo` (ISO times), in
   * that order, at most `limit`: a sweep reads a window in pages, however many expire in it.
   */
  expiredBetween(start: ExpiryPageStart, upTo: string, limit: number): Promise<ExpiredNotification[]>;
  /** Snoozes with `after` < snoozed_until <= `upTo` (ISO times). */
  wokenBetween(after: string, upTo: string): Promise<WokenSnooze[]>;
}
