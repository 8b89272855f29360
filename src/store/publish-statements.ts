// What a database runs for a publish transaction, and for scheduled delivery's insert into
// the topics: a small set of statements, implemented once per dialect (sqlite-statements.ts:
// prepared, synchronous, on the writer's connection; pg-statements.ts: a pg client's, or a
// Kysely transaction's). Every decision between them is in publish-plan.ts.
import type { KeyClaim, KeyRef, KeyResponse, MutingQuestion, QueuedPush, StoredKey } from './publish-plan.js';
import type { NotificationRow, StoredNotification } from './rows.js';

/** SQLite answers at once (its calls are synchronous); PostgreSQL later. */
type Answer<Sync extends boolean, T> = Sync extends true ? T : Promise<T>;

export interface PublishStatements<Sync extends boolean = boolean> {
  /** Claims the keys that are free; answers those this transaction took. */
  claimKeys(claims: readonly KeyClaim[], now: string): Answer<Sync, KeyRef[]>;
  readKeys(keys: readonly KeyRef[]): Answer<Sync, StoredKey[]>;
  storeResponses(responses: readonly KeyResponse[]): Answer<Sync, void>;
  /**
   * Moves each topic's head by its count, locking the topics in name order, and answers
   * the new heads: keys first, then topics, in every transaction, so two of them (two
   * nodes' publishes, a publish and a delivery) wait in one order and cannot deadlock.
   */
  advanceHeads(counts: ReadonlyMap<string, number>): Answer<Sync, Map<string, number>>;
  /** Inserts the rows in order; consecutive rows of one publish send its content once. */
  insertNotifications(rows: readonly StoredNotification[]): Answer<Sync, void>;
  /** Per question, the users who muted its type (an empty set for a null one). */
  usersMuting(questions: ReadonlyArray<MutingQuestion | null>): Answer<Sync, Array<Set<string>>>;
  notificationsByIds(ids: readonly string[]): Answer<Sync, NotificationRow[]>;
  /** Queues the push decisions of the users who have a push subscription; the others' are dropped here. */
  enqueuePushes(pushes: readonly QueuedPush[]): Answer<Sync, void>;
}
