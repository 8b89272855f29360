// The push tables' writes (see push-store.ts for what each means). They are StoreWrites
// methods, so on a SQLite file they run on the writer thread like every other write; each
// argument and answer is plain data.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Dialect } from './migrations.js';
import type { Database } from './schema.js';

export type PushJobRow = Selectable<Database['push_queue']>;
export type SubscriptionRow = Selectable<Database['push_subscriptions']>;

export interface SubscriptionInput {
  endpoint: string;
  p256dh: string;
  auth: string;
  /** ISO time, or null. */
  expirationTime: string | null;
}

export interface SavedSubscription {
  subscription: SubscriptionRow;
  /** False when the endpoint was stored already (it now belongs to this user, with these keys). */
  created: boolean;
}

/** Rows per statement: far below both databases' bound-parameter limits. */
const CHUNK = 500;

export async function saveSubscription(db: Kysely<Database>, user: string, input: SubscriptionInput, now: string, maxPerUser: number): Promise<SavedSubscription> {
  return db.transaction().execute(async (trx) => {
    const values = { user_id: user, p256dh: input.p256dh, auth: input.auth, expiration_time: input.expirationTime };
    const inserted = await trx.insertInto('push_subscriptions').values({ id: randomUUID(), endpoint: input.endpoint, created_at: now, ...values })
      .onConflict((oc) => oc.column('endpoint').doNothing()).returningAll().executeTakeFirst();
    let saved: SavedSubscription;
    if (inserted) {
      saved = { subscription: inserted, created: true };
    } else {
      const before = await trx.selectFrom('push_subscriptions').select(['id', 'user_id']).where('endpoint', '=', input.endpoint).executeTakeFirstOrThrow();
      // A browser that signed in as someone else: what was queued for the former owner must
      // not reach the new one's screen.
      if (before.user_id !== user) await trx.deleteFrom('push_queue').where('subscription_id', '=', before.id).execute();
      const updated = await trx.updateTable('push_subscriptions').set(values).where('id', '=', before.id).returningAll().executeTakeFirstOrThrow();
      saved = { subscription: updated, created: false };
    }
    // Browsers renew subscriptions and leave the old ones behind: a user keeps the newest few.
    const surplus = await trx.selectFrom('push_subscriptions').select('id').where('user_id', '=', user)
      .orderBy('created_at', 'desc').orderBy('id', 'desc').offset(maxPerUser).limit(CHUNK).execute();
    if (surplus.length > 0) await deleteSubscriptions(trx, surplus.map((s) => s.id));
    return saved;
  });
}

/** Deletes the user's subscription and what is queued for it; false when the user has none with that id. */
export async function deleteSubscription(db: Kysely<Database>, user: string, id: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('push_subscriptions').select('id').where('id', '=', id).where('user_id', '=', user).executeTakeFirst();
    if (!row) return false;
    await deleteSubscriptions(trx, [id]);
    return true;
  });
}

async function deleteSubscriptions(db: Kysely<Database>, ids: readonly string[]): Promise<void> {
  await db.deleteFrom('push_queue').where('subscription_id', 'in', ids).execute();
  await db.deleteFrom('push_subscriptions').where('id', 'in', ids).execute();
}

/**
 * Takes up to `limit` rows due at `now`, earliest first, by moving them to `leaseUntil`:
 * until then no node takes them again, after it (their node died) any node does. On
 * PostgreSQL rows another node is claiming are skipped, so two nodes never take one row.
 */
export async function claimPushes(db: Kysely<Database>, dialect: Dialect, now: string, leaseUntil: string, limit: number): Promise<PushJobRow[]> {
  let due = db.selectFrom('push_queue').select('id').where('due_at', '<=', now).orderBy('due_at').orderBy('id').limit(limit);
  if (dialect === 'postgres') due = due.forUpdate().skipLocked();
  const rows = await db.updateTable('push_queue').set({ due_at: leaseUntil }).where('id', 'in', due).returningAll().execute();
  return rows.map((row) => ({ ...row, id: Number(row.id), attempts: Number(row.attempts) })).sort((a, b) => a.id - b.id);
}

/** A decision made on a claimed row: send to these subscriptions (none: drop it). */
export interface PushDecision {
  job: PushJobRow;
  subscriptionIds: string[];
}

/**
 * Replaces decided rows, in one transaction, by one send per subscription, leased as the
 * decision was: the node that decided sends them. A row whose lease was lost (another node
 * took it meanwhile) is left to that node.
 */
export async function decidePushes(db: Kysely<Database>, decisions: readonly PushDecision[], now: string): Promise<PushJobRow[]> {
  if (decisions.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    const sends: PushJobRow[] = [];
    for (const { job, subscriptionIds } of decisions) {
      const mine = await trx.deleteFrom('push_queue').where('id', '=', job.id).where('due_at', '=', job.due_at).returning('id').executeTakeFirst();
      if (!mine || subscriptionIds.length === 0) continue;
      const rows = await trx.insertInto('push_queue').values(subscriptionIds.map((subscriptionId) => ({
        notification_id: job.notification_id, user_id: job.user_id, subscription_id: subscriptionId, policy: job.policy,
        due_at: job.due_at, attempts: 0, created_at: now,
      }))).returningAll().execute();
      sends.push(...rows.map((row) => ({ ...row, id: Number(row.id), attempts: Number(row.attempts) })));
    }
    return sends;
  });
}

/** What a batch of sends came to: rows done with, rows to try again, subscriptions the push service called gone. */
export interface PushSettlement {
  finished: number[];
  retries: Array<[id: number, dueAt: string]>;
  goneSubscriptions: string[];
}

/** Records a batch's outcomes in one transaction. */
export async function settlePushes(db: Kysely<Database>, settlement: PushSettlement): Promise<void> {
  const { finished, retries, goneSubscriptions } = settlement;
  if (finished.length + retries.length + goneSubscriptions.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < finished.length; i += CHUNK) await trx.deleteFrom('push_queue').where('id', 'in', finished.slice(i, i + CHUNK)).execute();
    for (const [id, dueAt] of retries) {
      await trx.updateTable('push_queue').set((eb) => ({ due_at: dueAt, attempts: eb('attempts', '+', 1) })).where('id', '=', id).execute();
    }
    for (let i = 0; i < goneSubscriptions.length; i += CHUNK) await deleteSubscriptions(trx, goneSubscriptions.slice(i, i + CHUNK));
  });
}

/**
 * Records, for the users among `entries` who have a subscription, until when this node
 * knew them to have a stream open. The others are left out: no push would ask.
 */
export async function recordPresence(db: Kysely<Database>, node: string, entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
  for (let i = 0; i < entries.length; i += CHUNK) {
    const chunk = entries.slice(i, i + CHUNK);
    const subscribed = new Set((await db.selectFrom('push_subscriptions').select('user_id').distinct()
      .where('user_id', 'in', chunk.map(([user]) => user)).execute()).map((row) => row.user_id));
    const rows = chunk.filter(([user]) => subscribed.has(user)).map(([user, until]) => ({ user_id: user, node_id: node, until }));
    if (rows.length === 0) continue;
    await db.insertInto('push_presence').values(rows)
      .onConflict((oc) => oc.columns(['user_id', 'node_id']).doUpdateSet((eb) => ({ until: eb.ref('excluded.until') }))).execute();
  }
}

/**
 * Retention of the push tables, at most `limit` rows of each per call: subscriptions past
 * the end their browser gave (with what is queued for them), and presence older than
 * `staleBefore`. Answers how many rows went.
 */
export async function purgePush(db: Kysely<Database>, now: string, staleBefore: string, limit: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const expired = (await trx.selectFrom('push_subscriptions').select('id').where('expiration_time', '<=', now).limit(limit).execute()).map((r) => r.id);
    if (expired.length > 0) await deleteSubscriptions(trx, expired);
    const stale = trx.selectFrom('push_presence').select(['user_id', 'node_id']).where('until', '<', staleBefore).limit(limit).$asTuple('user_id', 'node_id');
    const gone = await trx.deleteFrom('push_presence').where((eb) => eb(eb.refTuple('user_id', 'node_id'), 'in', stale)).executeTakeFirst();
    return expired.length + Number(gone.numDeletedRows);
  });
}
