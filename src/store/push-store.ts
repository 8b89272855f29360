// Web Push storage: browsers' subscriptions per user, the durable push queue, and where
// users last had a stream open. Reads run on the store's connection, a batch at a time;
// writes go where the store's other writes go (StoreWrites: on a SQLite file, the writer
// thread), one transaction per batch.
import type { Kysely } from 'kysely';
import { toNotification } from './rows.js';
import type { Database } from './schema.js';
import type { Notification } from './store.js';
import type { StoreWrites } from './writes.js';
import type { PushDecision, PushJobRow, PushSettlement, SavedSubscription, SubscriptionInput, SubscriptionRow } from './push-writes.js';

export type { PushDecision, PushJobRow as PushJob, PushSettlement, SavedSubscription, SubscriptionInput, SubscriptionRow as PushSubscriptionRow };

/** A notification as a push decides on it: the recipient's own state, and whether it was critical. */
export interface PushedNotification {
  notification: Notification;
  critical: boolean;
}

export interface PushQueueStats {
  /** Rows waiting: decisions and sends. */
  depth: number;
  /** When the oldest waiting row was queued (ISO), or null. */
  oldestCreatedAt: string | null;
  subscriptions: number;
}

/** Users per `in (…)` list. */
const PAGE = 500;

export interface PushStore {
  /** Stores a subscription for `user`, or moves an existing endpoint to them with the new keys; keeps the user's newest `maxPerUser`. */
  saveSubscription(user: string, input: SubscriptionInput, now: string, maxPerUser: number): Promise<SavedSubscription>;
  /** The user's subscriptions, oldest first. */
  subscriptionsOf(user: string): Promise<SubscriptionRow[]>;
  /** Each user's subscriptions (users without one are absent). */
  subscriptionsOfUsers(users: readonly string[]): Promise<Map<string, SubscriptionRow[]>>;
  subscriptionsByIds(ids: readonly string[]): Promise<Map<string, SubscriptionRow>>;
  /** Deletes one of the user's subscriptions with what is queued for it; false for another user's or an unknown id. */
  deleteSubscription(user: string, id: string): Promise<boolean>;
  /** Whether any row is due at `now`: most looks find none, answered by a read. */
  anyDue(now: string): Promise<boolean>;
  /** See push-writes.ts claimPushes. */
  claim(now: string, leaseUntil: string, limit: number): Promise<PushJobRow[]>;
  /** See push-writes.ts decidePushes: answers the sends to make. */
  decide(decisions: readonly PushDecision[], now: string): Promise<PushJobRow[]>;
  /** See push-writes.ts settlePushes. */
  settle(settlement: PushSettlement): Promise<void>;
  /** `entries`: [user, until] pairs this node saw; kept for users with a subscription only. */
  recordPresence(node: string, entries: ReadonlyArray<readonly [string, string]>): Promise<void>;
  /**
   * For each of these users some node recorded, the latest time one had them with a stream
   * open (ISO); `exceptNode`'s records are left out (that node asks its own memory instead).
   */
  lastPresence(users: readonly string[], exceptNode?: string): Promise<Map<string, string>>;
  /** The recipients' notifications with their own read/seen/archived state, keyed by id; another user's or a gone one is absent. */
  notificationsFor(pairs: ReadonlyArray<readonly [user: string, id: string]>): Promise<Map<string, PushedNotification>>;
  stats(): Promise<PushQueueStats>;
  /** Retention's batch (push-writes.ts purgePush). */
  purge(now: string, staleBefore: string, limit: number): Promise<number>;
}

export class KyselyPushStore implements PushStore {
  readonly #db: Kysely<Database>;
  readonly #writes: StoreWrites;

  constructor(db: Kysely<Database>, writes: StoreWrites) {
    this.#db = db;
    this.#writes = writes;
  }

  saveSubscription(user: string, input: SubscriptionInput, now: string, maxPerUser: number): Promise<SavedSubscription> {
    return this.#writes.savePushSubscription(user, input, now, maxPerUser);
  }

  subscriptionsOf(user: string): Promise<SubscriptionRow[]> {
    return this.#db.selectFrom('push_subscriptions').selectAll().where('user_id', '=', user).orderBy('created_at').orderBy('id').execute();
  }

  async subscriptionsOfUsers(users: readonly string[]): Promise<Map<string, SubscriptionRow[]>> {
    const byUser = new Map<string, SubscriptionRow[]>();
    for (const page of pages([...new Set(users)])) {
      const rows = await this.#db.selectFrom('push_subscriptions').selectAll().where('user_id', 'in', page).orderBy('created_at').orderBy('id').execute();
      for (const row of rows) {
        const list = byUser.get(row.user_id);
        if (list) list.push(row);
        else byUser.set(row.user_id, [row]);
      }
    }
    return byUser;
  }

  async subscriptionsByIds(ids: readonly string[]): Promise<Map<string, SubscriptionRow>> {
    const byId = new Map<string, SubscriptionRow>();
    for (const page of pages([...new Set(ids)])) {
      for (const row of await this.#db.selectFrom('push_subscriptions').selectAll().where('id', 'in', page).execute()) byId.set(row.id, row);
    }
    return byId;
  }

  deleteSubscription(user: string, id: string): Promise<boolean> {
    return this.#writes.deletePushSubscription(user, id);
  }

  async anyDue(now: string): Promise<boolean> {
    return (await this.#db.selectFrom('push_queue').select('id').where('due_at', '<=', now).limit(1).executeTakeFirst()) !== undefined;
  }

  claim(now: string, leaseUntil: string, limit: number): Promise<PushJobRow[]> {
    return this.#writes.claimPushes(now, leaseUntil, limit);
  }

  decide(decisions: readonly PushDecision[], now: string): Promise<PushJobRow[]> {
    return this.#writes.decidePushes(decisions, now);
  }

  settle(settlement: PushSettlement): Promise<void> {
    return this.#writes.settlePushes(settlement);
  }

  recordPresence(node: string, entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    return this.#writes.recordPresence(node, entries);
  }

  async lastPresence(users: readonly string[], exceptNode?: string): Promise<Map<string, string>> {
    const latest = new Map<string, string>();
    for (const page of pages([...new Set(users)])) {
      let query = this.#db.selectFrom('push_presence').select((eb) => ['user_id', eb.fn.max('until').as('until')]).where('user_id', 'in', page);
      if (exceptNode !== undefined) query = query.where('node_id', '<>', exceptNode);
      const rows = await query.groupBy('user_id').execute();
      for (const row of rows) latest.set(row.user_id, row.until);
    }
    return latest;
  }

  async notificationsFor(pairs: ReadonlyArray<readonly [string, string]>): Promise<Map<string, PushedNotification>> {
    const wanted = new Set(pairs.map(([user, id]) => `${user}\n${id}`));
    const found = new Map<string, PushedNotification>();
    for (const page of pages([...new Set(pairs.map(([, id]) => id))])) {
      // The receipt is the recipient's: a private notification has no other reader.
      const rows = await this.#db.selectFrom('notifications as n')
        .leftJoin('receipts as r', (join) => join.onRef('r.notification_pk', '=', 'n.pk').onRef('r.user_id', '=', 'n.recipient'))
        .selectAll('n').select(['r.read_at', 'r.seen_at', 'r.archived_at', 'r.snoozed_until'])
        .where('n.id', 'in', page).execute();
      for (const row of rows) {
        if (row.recipient === null || !wanted.has(`${row.recipient}\n${row.id}`)) continue;
        found.set(row.id, { notification: toNotification(row, row), critical: Number(row.critical) === 1 });
      }
    }
    return found;
  }

  async stats(): Promise<PushQueueStats> {
    const queue = await this.#db.selectFrom('push_queue')
      .select((eb) => [eb.fn.countAll<number | string>().as('depth'), eb.fn.min('created_at').as('oldest')]).executeTakeFirstOrThrow();
    const subscriptions = await this.#db.selectFrom('push_subscriptions').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return { depth: Number(queue.depth), oldestCreatedAt: (queue.oldest as string | null) ?? null, subscriptions: Number(subscriptions.n) };
  }

  purge(now: string, staleBefore: string, limit: number): Promise<number> {
    return this.#writes.purgePush(now, staleBefore, limit);
  }
}

function pages<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += PAGE) out.push(items.slice(i, i + PAGE));
  return out;
}
