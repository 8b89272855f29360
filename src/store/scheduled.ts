// Scheduled delivery in the store: accepting a notification for later, moving it into its
// topic when due, cancelling it. Both dialects share this code; PostgreSQL's one
// difference is that a delivery skips rows another node is delivering.
//
// A publish waits as its content, once (scheduled_publishes), and a small row per
// recipient (scheduled_targets). Rows a node of an earlier version wrote, content and all,
// in scheduled_notifications are read and delivered beside them.
import { newNotificationId } from './ids.js';
import type { Kysely, Selectable } from 'kysely';
import { patternsMuting } from '../domain/preferences.js';
import { HeraldError } from '../errors.js';
import type { Dialect } from './migrations.js';
import {
  countByTopic, eventOfRow, keyClaims, keyPlans, keyResponse, mutingQuestion, parseKeyResponse, planPublish, queuedPushes, takeSequences, takenKeys,
  type PushQueueing,
} from './publish-plan.js';
import type { PublishStatements } from './publish-statements.js';
import { newNotification, toNotification, type StoredNotification } from './rows.js';
import type { Database } from './schema.js';
import type { CancelOutcome, PublishRequest, PublishResult, PushPolicy, ScheduledNotification, TopicEvent } from './store.js';

/** A waiting notification whole, from either layout (the earlier one has no push policy: `auto`). */
type ScheduledRow = Selectable<Database['scheduled_notifications']> & { push?: string | null };
type TargetRow = Selectable<Database['scheduled_targets']>;
/** The publish statements of a transaction (on SQLite its connection's, on PostgreSQL the transaction's own). */
export type StatementsIn = (trx: Kysely<Database>) => PublishStatements;

/** Rows per insert statement: well under both databases' bound-parameter limits. */
const INSERT_CHUNK = 500;

/**
 * Stores a publish with `deliverAt` for later, with its idempotency key, in one
 * transaction. The ids are assigned now (the answer names them, and cancel and the key's
 * replay find them by id); the topic sequence waits for delivery.
 */
export async function schedulePublish(
  db: Kysely<Database>, statementsIn: StatementsIn, request: PublishRequest, now: string, maxPending = Infinity,
): Promise<PublishResult> {
  const deliverAt = request.deliverAt as string;
  return db.transaction().execute(async (trx) => {
    const s = statementsIn(trx);
    const claims = keyClaims([request]);
    // On PostgreSQL a key another transaction holds makes this wait for its commit.
    const claimed = await s.claimKeys(claims, now);
    const [plan] = keyPlans([request], claimed, await s.readKeys(takenKeys(claims, claimed)));
    if (plan?.kind === 'conflict') throw new HeraldError('idempotency_conflict');
    if (plan?.kind === 'stored') return replayStored(trx, plan.response);
    const [muted] = await s.usersMuting([mutingQuestion(request)]);
    const publish = planPublish(request, muted as Set<string>, now);
    const targets = publish.targets;
    // One publish to 1000 recipients stores 1000 rows, delivered up to a year later and
    // untouched by retention meanwhile: each publisher has a bound on what waits.
    if (Number.isFinite(maxPending) && (await pendingOf(trx, request.publisher)) + targets.length > maxPending) {
      throw new HeraldError('scheduled_quota_exceeded');
    }
    const publishId = newNotificationId();
    if (targets.length > 0) {
      await trx.insertInto('scheduled_publishes').values({ id: publishId, ...publish.content, remaining: targets.length, push: request.push ?? null }).execute();
    }
    const rows = targets.map(({ id, topic, recipient }) => ({ id, publish_id: publishId, topic, recipient, publisher: request.publisher, deliver_at: deliverAt }));
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await trx.insertInto('scheduled_targets').values(rows.slice(i, i + INSERT_CHUNK)).execute();
    }
    if (request.idempotencyKey !== null) {
      await s.storeResponses([{ publisher: request.publisher, key: request.idempotencyKey, response: keyResponse(rows.map((r) => r.id), publish.suppressed) }]);
    }
    const scheduled = targets.map(({ id, topic, recipient }): ScheduledNotification => ({
      notification: newNotification(id, recipient, topic, request, publish.data, now), deliver_at: deliverAt,
    }));
    return { events: [], scheduled, replayed: false, suppressed: publish.suppressed };
  });
}

/** The answer a key stored: those still waiting as scheduled, those delivered as events. */
async function replayStored(db: Kysely<Database>, response: string): Promise<PublishResult> {
  const { ids, suppressed } = parseKeyResponse(response);
  const waiting = new Map((ids.length === 0 ? [] : await waitingWithIds(db, ids)).map((r) => [r.id, r]));
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
export async function deliverDue(
  db: Kysely<Database>, dialect: Dialect, statementsIn: StatementsIn, now: string, limit: number, push: PushQueueing | null = null,
): Promise<TopicEvent[]> {
  return db.transaction().execute(async (trx) => {
    const s = statementsIn(trx);
    const due = await claimDue(trx, dialect, now, limit);
    if (due.length === 0) return [];
    // One that expired before it was due (Herald was down past both) is dropped unseen; its
    // id is kept, so a cancel can answer that it expired.
    const live = await withoutMuted(s, due.filter((row) => !expiredAt(row, now)));
    const dropped = due.filter((row) => expiredAt(row, now)).map(({ id, publisher, created_at }) => ({ id, publisher, created_at }));
    for (let i = 0; i < dropped.length; i += INSERT_CHUNK) {
      await trx.insertInto('expired_scheduled').values(dropped.slice(i, i + INSERT_CHUNK))
        .onConflict((oc) => oc.column('id').doNothing()).execute();
    }
    // Within a topic, earlier due times take lower sequence numbers (the claim's order);
    // rows are written topic by topic.
    const byTopic = new Map<string, ScheduledRow[]>();
    for (const row of live) {
      const list = byTopic.get(row.topic);
      if (list) list.push(row);
      else byTopic.set(row.topic, [row]);
    }
    const ordered = [...byTopic.values()].flat();
    const topics = ordered.map((row) => row.topic);
    // Topics locked in name order, as a publish locks them: the two cannot deadlock.
    const seqs = takeSequences(topics, await s.advanceHeads(countByTopic(topics)));
    const rows = ordered.map((row, i): StoredNotification => ({
      id: row.id, topic: row.topic, seq: seqs[i] as number, recipient: row.recipient, type: row.type, title: row.title, content: row.content,
      data: row.data, publisher: row.publisher, created_at: now, expires_at: row.expires_at, critical: row.critical,
    }));
    await s.insertNotifications(rows);
    // Pushed as a publish at this time would be: the delay counts from delivery.
    await s.enqueuePushes(queuedPushes(ordered.map((row) => ({ id: row.id, recipient: row.recipient, policy: (row.push ?? null) as PushPolicy | null })), now, push));
    return rows.map((row): TopicEvent => ({ ...eventOfRow(row), critical: row.critical === 1 }));
  });
}

/**
 * Drops the private copies whose recipient muted their type since they were scheduled: a
 * mute is judged at delivery, as for a publish. Critical ones are delivered anyway.
 */
async function withoutMuted(s: PublishStatements, rows: ScheduledRow[]): Promise<ScheduledRow[]> {
  const recipientsByType = new Map<string, string[]>();
  for (const row of rows) {
    if (row.recipient === null || row.critical === 1) continue;
    const list = recipientsByType.get(row.type);
    if (list) list.push(row.recipient);
    else recipientsByType.set(row.type, [row.recipient]);
  }
  if (recipientsByType.size === 0) return rows;
  const types = [...recipientsByType.keys()];
  const answers = await s.usersMuting(types.map((type) => ({ users: recipientsByType.get(type) as string[], patterns: patternsMuting(type) })));
  const muted = new Set(types.flatMap((type, i) => [...(answers[i] as Set<string>)].map((user) => `${type}\n${user}`)));
  return muted.size === 0 ? rows : rows.filter((row) => row.recipient === null || row.critical === 1 || !muted.has(`${row.type}\n${row.recipient}`));
}

/**
 * Whether anything is due at `now`: most looks find nothing, and answer with this read
 * without taking the write lock.
 */
export async function anyDue(db: Kysely<Database>, now: string): Promise<boolean> {
  for (const table of ['scheduled_targets', 'scheduled_notifications'] as const) {
    if ((await db.selectFrom(table).select('id').where('deliver_at', '<=', now).limit(1).executeTakeFirst()) !== undefined) return true;
  }
  return false;
}

export async function nextDueAt(db: Kysely<Database>): Promise<string | null> {
  let next: string | null = null;
  for (const table of ['scheduled_targets', 'scheduled_notifications'] as const) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.min('deliver_at').as('next')).executeTakeFirst();
    const at = (row?.next as string | null | undefined) ?? null;
    if (at !== null && (next === null || at < next)) next = at;
  }
  return next;
}

/** What one publisher has waiting, in both layouts: its quota counts these. */
async function pendingOf(db: Kysely<Database>, publisher: string): Promise<number> {
  let pending = 0;
  for (const table of ['scheduled_targets', 'scheduled_notifications'] as const) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number | string>().as('n')).where('publisher', '=', publisher).executeTakeFirstOrThrow();
    pending += Number(row.n);
  }
  return pending;
}

/**
 * Claims and removes up to `limit` due rows, the earliest first, from both layouts (on
 * PostgreSQL skipping rows another node holds), answering them whole: each target with its
 * publish's content, which goes once its last target is claimed or cancelled.
 */
async function claimDue(trx: Kysely<Database>, dialect: Dialect, now: string, limit: number): Promise<ScheduledRow[]> {
  let legacyClaim = trx.selectFrom('scheduled_notifications').selectAll()
    .where('deliver_at', '<=', now).orderBy('deliver_at').orderBy('id').limit(limit);
  if (dialect === 'postgres') legacyClaim = legacyClaim.forUpdate().skipLocked();
  const legacy = await legacyClaim.execute();
  if (legacy.length > 0) await trx.deleteFrom('scheduled_notifications').where('id', 'in', legacy.map((r) => r.id)).execute();
  let targets: TargetRow[] = [];
  if (legacy.length < limit) {
    let targetClaim = trx.selectFrom('scheduled_targets').selectAll()
      .where('deliver_at', '<=', now).orderBy('deliver_at').orderBy('id').limit(limit - legacy.length);
    if (dialect === 'postgres') targetClaim = targetClaim.forUpdate().skipLocked();
    targets = await targetClaim.execute();
  }
  const claimed = targets.length === 0 ? [] : await withContent(trx, targets);
  if (targets.length > 0) {
    await trx.deleteFrom('scheduled_targets').where('id', 'in', targets.map((t) => t.id)).execute();
    await releaseContent(trx, countBy(targets.map((t) => t.publish_id)));
  }
  // One order for both: within a topic, earlier due times take lower sequence numbers.
  return [...legacy, ...claimed].sort((a, b) => (a.deliver_at < b.deliver_at ? -1 : a.deliver_at > b.deliver_at ? 1 : a.id < b.id ? -1 : 1));
}

/** The waiting rows with these ids, whole, from both layouts. */
async function waitingWithIds(db: Kysely<Database>, ids: readonly string[]): Promise<ScheduledRow[]> {
  const legacy = await db.selectFrom('scheduled_notifications').selectAll().where('id', 'in', ids).execute();
  const targets = await db.selectFrom('scheduled_targets').selectAll().where('id', 'in', ids).execute();
  return [...legacy, ...(await withContent(db, targets))];
}

/** Targets joined with their publish's content (read once per publish). */
async function withContent(db: Kysely<Database>, targets: readonly TargetRow[]): Promise<ScheduledRow[]> {
  if (targets.length === 0) return [];
  const publishes = new Map((await db.selectFrom('scheduled_publishes').selectAll()
    .where('id', 'in', [...new Set(targets.map((t) => t.publish_id))]).execute()).map((p) => [p.id, p]));
  return targets.flatMap((target): ScheduledRow[] => {
    const publish = publishes.get(target.publish_id);
    if (!publish) return [];
    return [{
      id: target.id, topic: target.topic, recipient: target.recipient, type: publish.type, title: publish.title,
      content: publish.content, data: publish.data, publisher: publish.publisher, created_at: publish.created_at,
      deliver_at: target.deliver_at, expires_at: publish.expires_at, critical: publish.critical, push: publish.push,
    }];
  });
}

/**
 * Counts `n` rows of each publish as gone and deletes the content no row waits for any
 * more. In id order, so two nodes releasing the same publishes lock them alike.
 */
async function releaseContent(db: Kysely<Database>, gone: Map<string, number>): Promise<void> {
  for (const [publishId, n] of [...gone].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const row = await db.updateTable('scheduled_publishes').set((eb) => ({ remaining: eb('remaining', '-', n) }))
      .where('id', '=', publishId).returning('remaining').executeTakeFirst();
    if (row && Number(row.remaining) <= 0) await db.deleteFrom('scheduled_publishes').where('id', '=', publishId).execute();
  }
}

function countBy(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
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
  const cancelled = await db.transaction().execute(async (trx) => {
    const legacy = await trx.deleteFrom('scheduled_notifications').where('id', '=', id).where('publisher', '=', publisher)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .returning('id').executeTakeFirst();
    if (legacy) return true;
    const target = await trx.deleteFrom('scheduled_targets').where('id', '=', id).where('publisher', '=', publisher)
      .where('publish_id', 'in', (eb) => eb.selectFrom('scheduled_publishes').select('id')
        .where((p) => p.or([p('expires_at', 'is', null), p('expires_at', '>', now)])))
      .returning('publish_id').executeTakeFirst();
    if (!target) return false;
    await releaseContent(trx, new Map([[target.publish_id, 1]]));
    return true;
  });
  if (cancelled) return 'cancelled';
  // Another publisher's id answers like an unknown one: nothing leaks.
  const delivered = await db.selectFrom('notifications').select('id').where('id', '=', id).where('publisher', '=', publisher).executeTakeFirst();
  if (delivered) return 'already_delivered';
  const waitingExpired = (await waitingWithIds(db, [id])).some((row) => row.publisher === publisher);
  const dropped = waitingExpired || (await db.selectFrom('expired_scheduled').select('id').where('id', '=', id).where('publisher', '=', publisher).executeTakeFirst()) !== undefined;
  return dropped ? 'expired' : 'not_found';
}
