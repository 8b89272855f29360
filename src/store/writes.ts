// The store's writes besides publishes: receipts, read-all, ticket redemption, preferences,
// scheduling, cancel, delivery of due notifications and retention's batches. On a SQLite
// file they run on the writer thread (sqlite-worker.ts), so waiting for the write lock and
// the commit's fsync never holds the event loop; elsewhere on the store's own connection.
// Every argument and answer is plain data: the calls cross threads by structured clone, and
// the time each is judged at travels with it (the server's clock, which tests move).
import { sql, type Kysely } from 'kysely';
import { toMuteEntry } from '../domain/preferences.js';
import type { Audience } from '../domain/topics.js';
import { HeraldError } from '../errors.js';
import type { Dialect } from './migrations.js';
import { notMutedBy } from './mutes.js';
import { toNotification } from './rows.js';
import { cancelScheduled, deliverDue, schedulePublish, type StatementsIn } from './scheduled.js';
import type { PushQueueing } from './publish-plan.js';
import {
  claimPushes, decidePushes, deleteSubscription, purgePush, recordPresence, saveSubscription, settlePushes,
  type PushDecision, type PushJobRow, type PushSettlement, type SavedSubscription, type SubscriptionInput,
} from './push-writes.js';
import type { Database } from './schema.js';
import type { PurgedNotifications } from './retention.js';
import type { CancelOutcome, Notification, PublishRequest, PublishResult, StateChange, TopicEvent } from './store.js';

export interface StoreWrites {
  /** See NotificationStore.updateState; `now` (ISO) judges expiry. */
  updateState(audience: Audience, id: string, change: StateChange, now: string): Promise<Notification | null>;
  /** See NotificationStore.markAll; `now` (ISO) judges expiry and snoozes. */
  markAll(audience: Audience, what: 'read' | 'seen', upToId: string | null, now: string): Promise<number>;
  redeemOnce(id: string, expiresAtMs: number): Promise<boolean>;
  setMutedTypes(user: string, patterns: readonly string[]): Promise<void>;
  /** Stores a publish with deliverAt for later, without the recipients muting its type. */
  schedule(request: PublishRequest, now: string, maxPending: number): Promise<PublishResult>;
  cancelScheduled(publisher: string, id: string, now: string): Promise<CancelOutcome>;
  /** Each id's outcome, as pairs (one short transaction per id: a bulk cancel never holds the lock long). */
  cancelScheduledMany(publisher: string, ids: readonly string[], now: string): Promise<Array<[string, CancelOutcome]>>;
  deliverDue(now: string, limit: number): Promise<TopicEvent[]>;
  /** Retention's batches (see RetentionStore); times as ISO text. */
  purgeNotifications(cutoff: string, limit: number): Promise<PurgedNotifications>;
  purgeIdempotencyKeys(cutoff: string, limit: number): Promise<number>;
  purgeExpiredTickets(nowMs: number, limit: number): Promise<number>;
  /** SQLite's retention lease: taken when free, expired or already this owner's. */
  takeRetentionLease(owner: string, nowMs: number, leaseMs: number): Promise<boolean>;
  releaseRetentionLease(owner: string): Promise<void>;
  // Web Push (push-store.ts says what each does).
  savePushSubscription(user: string, input: SubscriptionInput, now: string, maxPerUser: number): Promise<SavedSubscription>;
  deletePushSubscription(user: string, id: string): Promise<boolean>;
  claimPushes(now: string, leaseUntil: string, limit: number): Promise<PushJobRow[]>;
  decidePushes(decisions: readonly PushDecision[], now: string): Promise<PushJobRow[]>;
  settlePushes(settlement: PushSettlement): Promise<void>;
  recordPresence(node: string, entries: ReadonlyArray<readonly [string, string]>): Promise<void>;
  purgePush(now: string, staleBefore: string, limit: number): Promise<number>;
}

/** The names of StoreWrites' methods: what a thread may be asked to run. */
export const WRITE_METHODS = [
  'updateState', 'markAll', 'redeemOnce', 'setMutedTypes', 'schedule', 'cancelScheduled', 'cancelScheduledMany', 'deliverDue',
  'purgeNotifications', 'purgeIdempotencyKeys', 'purgeExpiredTickets', 'takeRetentionLease', 'releaseRetentionLease',
  'savePushSubscription', 'deletePushSubscription', 'claimPushes', 'decidePushes', 'settlePushes', 'recordPresence', 'purgePush',
] as const satisfies ReadonlyArray<keyof StoreWrites>;

export type WriteMethod = (typeof WRITE_METHODS)[number];

/** StoreWrites whose every call is handed to `call` (the writer thread's). */
export function remoteWrites(call: (method: WriteMethod, args: unknown[]) => Promise<unknown>): StoreWrites {
  return Object.fromEntries(WRITE_METHODS.map((method) => [method, (...args: unknown[]) => call(method, args)])) as unknown as StoreWrites;
}

/**
 * The first key of the per-user lock around a change of preferences (PostgreSQL advisory
 * locks of two 32-bit keys; the second is a hash of the user). Any constant that no other
 * two-key advisory lock uses; single-key locks (retention's) are a separate key space.
 */
const PREFERENCES_LOCK_CLASS = 0x4d757465; // "Mute"

/** Used tickets expire; every this many redemptions the expired ones are swept. */
const TICKET_SWEEP_EVERY = 100;

export class KyselyWrites implements StoreWrites {
  #redemptions = 0;

  readonly #db: Kysely<Database>;
  readonly #dialect: Dialect;

  readonly #statementsIn: StatementsIn;
  readonly #push: PushQueueing | null;

  /** `push`: how delivered scheduled notifications feed the push queue (null: push is off). */
  constructor(db: Kysely<Database>, dialect: Dialect, statementsIn: StatementsIn, push: PushQueueing | null = null) {
    this.#db = db;
    this.#dialect = dialect;
    this.#statementsIn = statementsIn;
    this.#push = push;
  }

  async updateState(audience: Audience, id: string, change: StateChange, now: string): Promise<Notification | null> {
    const row = await this.#db.selectFrom('notifications as n').selectAll()
      .where('id', '=', id).where('topic', 'in', [...audience.topics])
      .where((eb) => eb.or([eb('n.expires_at', 'is', null), eb('n.expires_at', '>', now)]))
      .executeTakeFirst();
    if (!row) return null;
    const stampedAt = new Date().toISOString();
    const read = change.status === 'read';
    // One statement that computes each column from the row as it is when the write lands:
    // two concurrent changes (read, archive) both stick, where read-then-write lost one.
    const keep = (column: 'read_at' | 'seen_at' | 'archived_at' | 'snoozed_until') => sql<string | null>`${sql.ref(`receipts.${column}`)}`;
    const stamp = (column: 'read_at' | 'seen_at' | 'archived_at') => sql<string | null>`coalesce(${sql.ref(`receipts.${column}`)}, ${stampedAt})`;
    const state = await this.#db.insertInto('receipts')
      .values({
        user_id: audience.user,
        notification_pk: row.pk,
        read_at: read ? stampedAt : null,
        seen_at: read || change.seen ? stampedAt : null,
        archived_at: change.archived === true ? stampedAt : null,
        snoozed_until: change.snoozedUntil ?? null,
      })
      .onConflict((oc) => oc.columns(['user_id', 'notification_pk']).doUpdateSet({
        read_at: read ? stamp('read_at') : change.status === 'unread' ? null : keep('read_at'),
        seen_at: read || change.seen ? stamp('seen_at') : keep('seen_at'),
        archived_at: change.archived === true ? stamp('archived_at') : change.archived === false ? null : keep('archived_at'),
        snoozed_until: change.snoozedUntil === undefined ? keep('snoozed_until') : change.snoozedUntil,
      }))
      .returning(['read_at', 'seen_at', 'archived_at', 'snoozed_until'])
      .executeTakeFirstOrThrow();
    return toNotification(row, state, now);
  }

  async markAll(audience: Audience, what: 'read' | 'seen', upToId: string | null, now: string): Promise<number> {
    // No transaction: a notification's position never changes, so the bound read first
    // still holds when the write lands, and the write is one statement.
    let upToPk: number | null = null;
    if (upToId !== null) {
      const row = await this.#db.selectFrom('notifications').select('pk')
        .where('id', '=', upToId).where('topic', 'in', [...audience.topics]).executeTakeFirst();
      if (!row) throw new HeraldError('not_found', `No notification ${JSON.stringify(upToId)} in your inbox.`);
      upToPk = Number(row.pk);
    }
    const stampedAt = new Date().toISOString();
    const column = what === 'read' ? sql.ref('read_at') : sql.ref('seen_at');
    const topics = sql.join(audience.topics.map((t) => sql`${t}`));
    const bound = upToPk === null ? sql`` : sql`and n.pk <= ${upToPk}`;
    // Expired and snoozed items are not in the inbox either: "all" leaves them alone.
    const visible = sql`and (n.expires_at is null or n.expires_at > ${now})`;
    const snoozed = sql`or r.snoozed_until > ${now}`;
    const readAt = what === 'read' ? stampedAt : null;
    // Reading implies seeing; seeing leaves read state alone; archived items are not in
    // the inbox, so "all" leaves them as they are, and so are muted ones (hidden from it).
    const result = await sql`
      insert into receipts (user_id, notification_pk, read_at, seen_at, archived_at)
      select ${audience.user}, n.pk, ${readAt}, ${stampedAt}, null from notifications n
      where n.topic in (${topics}) ${bound} ${visible}
        and ${notMutedBy(audience.user)}
        and not exists (select 1 from receipts r where r.user_id = ${audience.user}
                        and r.notification_pk = n.pk and (r.${column} is not null or r.archived_at is not null ${snoozed}))
      on conflict (user_id, notification_pk) do update set
        read_at = coalesce(receipts.read_at, excluded.read_at),
        seen_at = coalesce(receipts.seen_at, excluded.seen_at)`.execute(this.#db);
    return Number(result.numAffectedRows ?? 0n);
  }

  async redeemOnce(id: string, expiresAtMs: number): Promise<boolean> {
    // Expired rows are swept now and then; they can never be redeemed again anyway.
    if (++this.#redemptions % TICKET_SWEEP_EVERY === 0) await this.#db.deleteFrom('redeemed_tickets').where('expires_at', '<', Date.now()).execute();
    const inserted = await this.#db.insertInto('redeemed_tickets').values({ jti: id, expires_at: expiresAtMs })
      .onConflict((oc) => oc.column('jti').doNothing())
      .returning('jti')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  async setMutedTypes(user: string, patterns: readonly string[]): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      // Two replacements of one user's list at once on PostgreSQL: each delete sees only the
      // rows committed before it, so both would insert and the list become their union. A
      // lock on the user (rows to lock may not exist yet) makes the later one wait and then
      // delete what the first wrote: the last writer's list stands alone. SQLite writes are
      // serial already.
      if (this.#dialect === 'postgres') await sql`select pg_advisory_xact_lock(${PREFERENCES_LOCK_CLASS}, hashtext(${user}))`.execute(trx);
      await trx.deleteFrom('muted_types').where('user_id', '=', user).execute();
      if (patterns.length === 0) return;
      await trx.insertInto('muted_types')
        .values(patterns.map((pattern) => ({ user_id: user, ...toMuteEntry(pattern) })))
        .execute();
    });
  }

  /** Scheduled publishes are rare: stored (with their mute check) in a transaction of their own. */
  schedule(request: PublishRequest, now: string, maxPending: number): Promise<PublishResult> {
    return schedulePublish(this.#db, this.#statementsIn, request, now, maxPending);
  }

  cancelScheduled(publisher: string, id: string, now: string): Promise<CancelOutcome> {
    return cancelScheduled(this.#db, publisher, id, now);
  }

  async cancelScheduledMany(publisher: string, ids: readonly string[], now: string): Promise<Array<[string, CancelOutcome]>> {
    const outcomes: Array<[string, CancelOutcome]> = [];
    for (const id of new Set(ids)) outcomes.push([id, await cancelScheduled(this.#db, publisher, id, now)]);
    return outcomes;
  }

  deliverDue(now: string, limit: number): Promise<TopicEvent[]> {
    return deliverDue(this.#db, this.#dialect, this.#statementsIn, now, limit, this.#push);
  }

  async purgeNotifications(cutoff: string, limit: number): Promise<PurgedNotifications> {
    return this.#db.transaction().execute(async (trx) => {
      // Scheduled ones that expired undelivered (rare) are forgotten at the same age, so a
      // cancel then answers as for a delivered one that retention removed: not found.
      const droppedIds = trx.selectFrom('expired_scheduled').select('id')
        .where('created_at', '<', cutoff).orderBy('created_at').limit(limit);
      await trx.deleteFrom('expired_scheduled').where('id', 'in', droppedIds).execute();
      const rows = await trx.selectFrom('notifications').select(['pk', 'id', 'topic'])
        .where('created_at', '<', cutoff).orderBy('created_at').orderBy('pk').limit(limit).execute();
      if (rows.length === 0) return { notifications: 0, states: 0, removed: [] };
      const pks = rows.map((r) => r.pk);
      const states = await trx.deleteFrom('receipts').where('notification_pk', 'in', pks).executeTakeFirst();
      const notifications = await trx.deleteFrom('notifications').where('pk', 'in', pks).executeTakeFirst();
      return {
        notifications: Number(notifications.numDeletedRows),
        states: Number(states.numDeletedRows),
        removed: rows.map(({ id, topic }) => ({ id, topic })),
      };
    });
  }

  async purgeIdempotencyKeys(cutoff: string, limit: number): Promise<number> {
    // The batch is bounded by time: the limit-th oldest key's timestamp (ties may add a few).
    const nth = await this.#db.selectFrom('idempotency_keys').select('created_at')
      .where('created_at', '<', cutoff).orderBy('created_at').limit(1).offset(limit - 1).executeTakeFirst();
    const result = await this.#db.deleteFrom('idempotency_keys')
      .where('created_at', nth ? '<=' : '<', nth ? nth.created_at : cutoff)
      .where('created_at', '<', cutoff).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async purgeExpiredTickets(nowMs: number, limit: number): Promise<number> {
    const doomed = this.#db.selectFrom('redeemed_tickets').select('jti').where('expires_at', '<', nowMs).orderBy('expires_at').limit(limit);
    const result = await this.#db.deleteFrom('redeemed_tickets').where('jti', 'in', doomed).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async takeRetentionLease(owner: string, nowMs: number, leaseMs: number): Promise<boolean> {
    const value = `${owner} ${nowMs + leaseMs}`;
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('herald_meta').select('value').where('key', '=', 'retention_lease').executeTakeFirst();
      if (row) {
        const [holder, until] = row.value.split(' ');
        if (holder !== owner && Number(until) > nowMs) return false;
        await trx.updateTable('herald_meta').set({ value }).where('key', '=', 'retention_lease').where('value', '=', row.value).execute();
      } else {
        await trx.insertInto('herald_meta').values({ key: 'retention_lease', value }).execute();
      }
      return true;
    });
  }

  async releaseRetentionLease(owner: string): Promise<void> {
    await this.#db.deleteFrom('herald_meta').where('key', '=', 'retention_lease').where('value', 'like', `${owner} %`).execute();
  }

  savePushSubscription(user: string, input: SubscriptionInput, now: string, maxPerUser: number): Promise<SavedSubscription> {
    return saveSubscription(this.#db, user, input, now, maxPerUser);
  }

  deletePushSubscription(user: string, id: string): Promise<boolean> {
    return deleteSubscription(this.#db, user, id);
  }

  claimPushes(now: string, leaseUntil: string, limit: number): Promise<PushJobRow[]> {
    return claimPushes(this.#db, this.#dialect, now, leaseUntil, limit);
  }

  decidePushes(decisions: readonly PushDecision[], now: string): Promise<PushJobRow[]> {
    return decidePushes(this.#db, decisions, now);
  }

  settlePushes(settlement: PushSettlement): Promise<void> {
    return settlePushes(this.#db, settlement);
  }

  recordPresence(node: string, entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    return recordPresence(this.#db, node, entries);
  }

  purgePush(now: string, staleBefore: string, limit: number): Promise<number> {
    return purgePush(this.#db, now, staleBefore, limit);
  }
}
