// Scheduled delivery in the store: accepting a notification for later, moving it into its
// topic when due, cancelling it. Both dialects share this code; PostgreSQL's one
// difference is that a delivery skips rows another node is delivering.
import { newNotificationId } from './ids.js';
import { sql, type Kysely, type Selectable } from 'kysely';
import { HeraldError } from '../errors.js';
import type { Dialect } from './migrations.js';
import { usersMutingIn } from './mutes.js';
import { newNotification, targetsOf, toNotification } from './rows.js';
import type { Database } from './schema.js';
import type { CancelOutcome, PublishRequest, PublishResult, ScheduledNotification, TopicEvent } from './store.js';

type ScheduledRow = Selectable<Database['scheduled_notifications']>;
type StoredRow = Omit<Selectable<Database['notifications']>, 'pk'>;

/** Rows per insert statement: well under both databases' bound-parameter limits. */
const INSERT_CHUNK = 500;

/**
 * Stores a publish with `deliverAt` for later, with its idempotency key, in one
 * transaction. The ids are assigned now (the answer names them, and cancel and the key's
 * replay find them by id); the topic sequence waits for delivery.
 */
export async function schedulePublish(
  db: Kysely<Database>, request: PublishRequest, now: string, suppressed: readonly string[] = [], maxPending = Infinity,
): Promise<PublishResult> {
  const deliverAt = request.deliverAt as string;
  return db.transaction().execute(async (trx) => {
    if (request.idempotencyKey !== null) {
      // On PostgreSQL a key another transaction holds makes this wait for its commit.
      const claimed = await trx.insertInto('idempotency_keys')
        .values({ publisher: request.publisher, key: request.idempotencyKey, request_hash: request.requestHash, response: '', created_at: now })
        .onConflict((oc) => oc.columns(['publisher', 'key']).doNothing())
        .returning('key').executeTakeFirst();
      if (!claimed) {
        const existing = await trx.selectFrom('idempotency_keys').select(['request_hash', 'response'])
          .where('publisher', '=', request.publisher).where('key', '=', request.idempotencyKey).executeTakeFirstOrThrow();
        if (existing.request_hash !== request.requestHash) throw new HeraldError('idempotency_conflict');
        return replayStored(trx, existing.response);
      }
    }
    const targets = targetsOf(request);
    // One publish to 1000 recipients stores 1000 rows, delivered up to a year later and
    // untouched by retention meanwhile: each publisher has a bound on what waits.
    if (Number.isFinite(maxPending)) {
      const { pending } = await trx.selectFrom('scheduled_notifications').select((eb) => eb.fn.countAll<number | string>().as('pending'))
        .where('publisher', '=', request.publisher).executeTakeFirstOrThrow();
      if (Number(pending) + targets.length > maxPending) throw new HeraldError('scheduled_quota_exceeded');
    }
    const data = request.data === null ? null : JSON.stringify(request.data);
    const shared = data === null ? null : (JSON.parse(data) as Record<string, unknown>);
    const rows = targets.map(({ topic, recipient }) => ({
      id: newNotificationId(), topic, recipient, type: request.type, title: request.title, content: request.content, data,
      publisher: request.publisher, created_at: now, deliver_at: deliverAt, expires_at: request.expiresAt ?? null,
      critical: request.critical ? 1 : 0,
    }));
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await trx.insertInto('scheduled_notifications').values(rows.slice(i, i + INSERT_CHUNK)).execute();
    }
    if (request.idempotencyKey !== null) {
      // Who was suppressed is kept with the ids: a copy cancelled, expired or muted by the
      // time of a replay is not one the first publish suppressed.
      await trx.updateTable('idempotency_keys').set({ response: JSON.stringify({ ids: rows.map((r) => r.id), suppressed }) })
        .where('publisher', '=', request.publisher).where('key', '=', request.idempotencyKey).execute();
    }
    const scheduled = rows.map((row): ScheduledNotification => ({
      notification: newNotification(row.id, row.recipient, row.topic, request, shared, now), deliver_at: deliverAt,
    }));
    return { events: [], scheduled, replayed: false };
  });
}

/** The answer a key stored: those still waiting as scheduled, those delivered as events. */
async function replayStored(db: Kysely<Database>, response: string): Promise<PublishResult> {
  const { ids, suppressed } = JSON.parse(response) as { ids: string[]; suppressed?: string[] };
  const waiting = new Map((await db.selectFrom('scheduled_notifications').selectAll().where('id', 'in', ids).execute()).map((r) => [r.id, r]));
  const delivered = new Map((await db.selectFrom('notifications').selectAll().where('id', 'in', ids).execute()).map((r) => [r.id, r]));
  const events: TopicEvent[] = [];
  const scheduled: ScheduledNotification[] = [];
  for (const id of ids) {
    const row = delivered.get(id);
    if (row) events.push({ topic: row.topic, seq: Number(row.seq), notification: toNotification(row, null) });
    const pending = waiting.get(id);
    if (pending) scheduled.push({ notification: toNotification({ ...pending, seq: 0 }, null), deliver_at: pending.deliver_at });
  }
  // A key stored before `suppressed` was kept leaves it to the publisher to work out.
  return { events, scheduled, replayed: true, ...(suppressed === undefined ? {} : { suppressed }) };
}

/**
 * Claims up to `limit` due rows and inserts them as notifications in the same transaction:
 * a node that dies mid-way rolls back and leaves them to the next claimer, and on
 * PostgreSQL `SKIP LOCKED` lets several nodes deliver different rows at once. The ids
 * are unique in the notifications table too, so no row can ever be delivered twice.
 */
export async function deliverDue(db: Kysely<Database>, dialect: Dialect, now: string, limit: number): Promise<TopicEvent[]> {
  return db.transaction().execute(async (trx) => {
    let claim = trx.selectFrom('scheduled_notifications').selectAll()
      .where('deliver_at', '<=', now).orderBy('deliver_at').orderBy('id').limit(limit);
    if (dialect === 'postgres') claim = claim.forUpdate().skipLocked();
    const due = await claim.execute();
    if (due.length === 0) return [];
    await trx.deleteFrom('scheduled_notifications').where('id', 'in', due.map((r) => r.id)).execute();
    // One that expired before it was due (Herald was down past both) is dropped unseen; its
    // id is kept, so a cancel can answer that it expired.
    const live = await withoutMuted(trx, dialect, due.filter((row) => !expiredAt(row, now)));
    const dropped = due.filter((row) => expiredAt(row, now)).map(({ id, publisher, created_at }) => ({ id, publisher, created_at }));
    for (let i = 0; i < dropped.length; i += INSERT_CHUNK) {
      await trx.insertInto('expired_scheduled').values(dropped.slice(i, i + INSERT_CHUNK))
        .onConflict((oc) => oc.column('id').doNothing()).execute();
    }
    // Within a topic, earlier due times take lower sequence numbers (the claim's order).
    const byTopic = new Map<string, ScheduledRow[]>();
    for (const row of live) {
      const list = byTopic.get(row.topic);
      if (list) list.push(row);
      else byTopic.set(row.topic, [row]);
    }
    const heads = await advanceHeads(trx, dialect, new Map([...byTopic].map(([topic, rows]) => [topic, rows.length])));
    const events: TopicEvent[] = [];
    const inserts: StoredRow[] = [];
    for (const [topic, rows] of byTopic) {
      let seq = (heads.get(topic) as number) - rows.length;
      for (const row of rows) {
        seq += 1;
        const stored: StoredRow = {
          id: row.id, topic, seq, recipient: row.recipient, type: row.type, title: row.title, content: row.content,
          data: row.data, publisher: row.publisher, created_at: now, expires_at: row.expires_at, critical: row.critical,
        };
        inserts.push(stored);
        events.push({ topic, seq, notification: toNotification(stored, null), critical: row.critical === 1 });
      }
    }
    for (let i = 0; i < inserts.length; i += INSERT_CHUNK) {
      await trx.insertInto('notifications').values(inserts.slice(i, i + INSERT_CHUNK)).execute();
    }
    return events;
  });
}

/**
 * Drops the private copies whose recipient muted their type since they were scheduled: a
 * mute is judged at delivery, as for a publish. Critical ones are delivered anyway.
 */
async function withoutMuted(db: Kysely<Database>, dialect: Dialect, rows: ScheduledRow[]): Promise<ScheduledRow[]> {
  const recipientsByType = new Map<string, string[]>();
  for (const row of rows) {
    if (row.recipient === null || row.critical === 1) continue;
    const list = recipientsByType.get(row.type);
    if (list) list.push(row.recipient);
    else recipientsByType.set(row.type, [row.recipient]);
  }
  const muted = new Set<string>();
  for (const [type, users] of recipientsByType) {
    for (const user of await usersMutingIn(db, dialect, users, type)) muted.add(`${type}\n${user}`);
  }
  return muted.size === 0 ? rows : rows.filter((row) => row.recipient === null || row.critical === 1 || !muted.has(`${row.type}\n${row.recipient}`));
}

/**
 * Moves each topic's head by its count and answers the new heads. On PostgreSQL in one
 * statement that locks the topics in the database's name order, exactly as the publish
 * path does (src/store/pg-writer.ts), so a delivery and a publish cannot deadlock. SQLite
 * has one writer and no such risk.
 */
async function advanceHeads(db: Kysely<Database>, dialect: Dialect, counts: Map<string, number>): Promise<Map<string, number>> {
  const heads = new Map<string, number>();
  if (dialect === 'postgres') {
    const result = await sql<{ name: string; head: number | string }>`insert into topics (name, head)
      select t.name, t.n from unnest(${[...counts.keys()]}::text[], ${[...counts.values()]}::int8[]) as t(name, n)
      order by t.name
      on conflict (name) do update set head = topics.head + excluded.head
      returning name, head`.execute(db);
    for (const row of result.rows) heads.set(row.name, Number(row.head));
    return heads;
  }
  for (const [topic, n] of counts) {
    const { head } = await db.insertInto('topics').values({ name: topic, head: n })
      .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ head: eb('topics.head', '+', n) })))
      .returning('head').executeTakeFirstOrThrow();
    heads.set(topic, Number(head));
  }
  return heads;
}

/**
 * Whether anything is due at `now`: most looks find nothing, and answer with this read
 * without taking the write lock.
 */
export async function anyDue(db: Kysely<Database>, now: string): Promise<boolean> {
  return (await db.selectFrom('scheduled_notifications').select('id').where('deliver_at', '<=', now).limit(1).executeTakeFirst()) !== undefined;
}

export async function nextDueAt(db: Kysely<Database>): Promise<string | null> {
  const row = await db.selectFrom('scheduled_notifications').select((eb) => eb.fn.min('deliver_at').as('next')).executeTakeFirst();
  return (row?.next as string | null | undefined) ?? null;
}

function expiredAt(row: ScheduledRow, now: string): boolean {
  return row.expires_at !== null && row.expires_at <= now;
}

/**
 * Deletes the publisher's scheduled row. On PostgreSQL a delivery in progress holds the
 * row's lock, so this waits for it and then finds the notification delivered. One past its
 * expiry answers `expired` whether the delivery already dropped it or not yet (the next
 * delivery will): the answer does not depend on when the scheduler last looked.
 */
export async function cancelScheduled(db: Kysely<Database>, publisher: string, id: string, now: string): Promise<CancelOutcome> {
  const deleted = await db.deleteFrom('scheduled_notifications').where('id', '=', id).where('publisher', '=', publisher)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .returning('id').executeTakeFirst();
  if (deleted) return 'cancelled';
  // Another publisher's id answers like an unknown one: nothing leaks.
  const delivered = await db.selectFrom('notifications').select('id').where('id', '=', id).where('publisher', '=', publisher).executeTakeFirst();
  if (delivered) return 'already_delivered';
  const waitingExpired = await db.selectFrom('scheduled_notifications').select('id').where('id', '=', id).where('publisher', '=', publisher).executeTakeFirst();
  const dropped = waitingExpired ?? await db.selectFrom('expired_scheduled').select('id').where('id', '=', id).where('publisher', '=', publisher).executeTakeFirst();
  return dropped ? 'expired' : 'not_found';
}
