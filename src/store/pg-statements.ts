// The publish statements on PostgreSQL: a fixed number per transaction whatever the number
// of publishes and recipients (arrays through unnest), each a named statement that the
// server plans once per connection. They run on a pg client (the publish writer's) or in a
// Kysely transaction (scheduled delivery's), through `query`.
import { CompiledQuery, type Kysely } from 'kysely';
import type { KeyClaim, KeyRef, KeyResponse, MutingQuestion, QueuedPush, StoredKey } from './publish-plan.js';
import type { PublishStatements } from './publish-statements.js';
import { NOTIFICATION_COLUMNS, PUBLISH_COLUMNS, ROW_COLUMNS, publishValues, rowValues, runsOfPublish, type NotificationRow, type StoredNotification } from './rows.js';
import type { Database } from './schema.js';

export type PgStatement = { name: string; text: string };
/** Runs a statement and answers its rows. */
export type PgQuery = <R>(statement: PgStatement, values: unknown[]) => Promise<R[]>;

// Keys first, then topics, each in name order, in every transaction: two nodes' batches
// wait on each other's locks in one order and cannot deadlock.
const CLAIM_KEYS = {
  name: 'herald_claim_keys',
  text: `insert into idempotency_keys (publisher, key, request_hash, response, created_at)
    select k.publisher, k.key, k.request_hash, '', $4
    from unnest($1::text[], $2::text[], $3::text[]) as k(publisher, key, request_hash)
    order by k.publisher, k.key
    on conflict (publisher, key) do nothing
    returning publisher, key`,
};
const READ_KEYS = {
  name: 'herald_read_keys',
  text: `select k.publisher, k.key, k.request_hash, k.response
    from idempotency_keys k join unnest($1::text[], $2::text[]) as u(publisher, key)
      on k.publisher = u.publisher and k.key = u.key`,
};
const STORE_RESPONSES = {
  name: 'herald_store_ids',
  text: `update idempotency_keys k set response = u.response
    from unnest($1::text[], $2::text[], $3::text[]) as u(publisher, key, response)
    where k.publisher = u.publisher and k.key = u.key`,
};
const ADVANCE_HEADS = {
  name: 'herald_advance_heads',
  text: `insert into topics (name, head)
    select t.name, t.n from unnest($1::text[], $2::int8[]) as t(name, n)
    order by t.name
    on conflict (name) do update set head = topics.head + excluded.head
    returning name, head`,
};
// Per-row columns in one set of arrays, each publish's (its content, once) in another,
// joined by the publish's ordinal; both generated from NOTIFICATION_COLUMNS.
const rowParams = ROW_COLUMNS.map((c, i) => `$${i + 1}::${c.pg}[]`);
const publishParams = PUBLISH_COLUMNS.map((c, i) => `$${ROW_COLUMNS.length + 2 + i}::${c.pg}[]`);
const INSERT_NOTIFICATIONS = {
  name: 'herald_insert_notifications',
  text: `insert into notifications (${NOTIFICATION_COLUMNS.map((c) => c.name).join(', ')})
    select ${NOTIFICATION_COLUMNS.map((c) => `${c.perRow ? 'n' : 'p'}.${c.name}`).join(', ')}
    from unnest(${rowParams.join(', ')}, $${ROW_COLUMNS.length + 1}::int4[]) with ordinality as n(${ROW_COLUMNS.map((c) => c.name).join(', ')}, publish, ord)
    join unnest(${publishParams.join(', ')}) with ordinality as p(${PUBLISH_COLUMNS.map((c) => c.name).join(', ')}, publish)
      on p.publish = n.publish
    order by n.ord`,
};
/**
 * Which users of which question muted its type: rows (question, user) against each
 * question's muting entries (patternsMuting, space-separated: a type has no spaces).
 */
export const PG_USERS_MUTING = {
  name: 'herald_muting',
  text: `select u.req, u.user_id
    from unnest($1::int4[], $2::text[]) as u(req, user_id)
    join unnest($3::text[]) with ordinality as p(patterns, req) on p.req = u.req
    where exists (select 1 from muted_types m where m.user_id = u.user_id and m.pattern = any(string_to_array(p.patterns, ' ')))`,
};
const BY_IDS = { name: 'herald_notifications_by_ids', text: 'select * from notifications where id = any($1::text[])' };
/** Only users with a subscription: a publish to 1000 users without one queues nothing. */
const ENQUEUE_PUSHES = {
  name: 'herald_enqueue_pushes',
  text: `insert into push_queue (notification_id, user_id, policy, due_at, created_at)
    select q.notification_id, q.user_id, q.policy, q.due_at, q.created_at
    from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) as q(notification_id, user_id, policy, due_at, created_at)
    where exists (select 1 from push_subscriptions s where s.user_id = q.user_id)`,
};

export class PgStatements implements PublishStatements<false> {
  readonly #query: PgQuery;

  constructor(query: PgQuery) {
    this.#query = query;
  }

  async claimKeys(claims: readonly KeyClaim[], now: string): Promise<KeyRef[]> {
    if (claims.length === 0) return [];
    return this.#query<KeyRef>(CLAIM_KEYS, [claims.map((c) => c.publisher), claims.map((c) => c.key), claims.map((c) => c.requestHash), now]);
  }

  async readKeys(keys: readonly KeyRef[]): Promise<StoredKey[]> {
    if (keys.length === 0) return [];
    const rows = await this.#query<{ publisher: string; key: string; request_hash: string; response: string }>(READ_KEYS, [keys.map((k) => k.publisher), keys.map((k) => k.key)]);
    return rows.map((row) => ({ publisher: row.publisher, key: row.key, requestHash: row.request_hash, response: row.response }));
  }

  async storeResponses(responses: readonly KeyResponse[]): Promise<void> {
    if (responses.length === 0) return;
    await this.#query(STORE_RESPONSES, [responses.map((r) => r.publisher), responses.map((r) => r.key), responses.map((r) => r.response)]);
  }

  async advanceHeads(counts: ReadonlyMap<string, number>): Promise<Map<string, number>> {
    if (counts.size === 0) return new Map();
    const rows = await this.#query<{ name: string; head: number | string }>(ADVANCE_HEADS, [[...counts.keys()], [...counts.values()]]);
    return new Map(rows.map((row) => [row.name, Number(row.head)]));
  }

  async insertNotifications(rows: readonly StoredNotification[]): Promise<void> {
    if (rows.length === 0) return;
    const perRow: unknown[][] = ROW_COLUMNS.map(() => []);
    const perPublish: unknown[][] = PUBLISH_COLUMNS.map(() => []);
    const ordinals: number[] = [];
    for (const run of runsOfPublish(rows)) {
      publishValues(run[0] as StoredNotification).forEach((value, i) => perPublish[i]?.push(value));
      const ordinal = (perPublish[0] as unknown[]).length;
      for (const row of run) {
        rowValues(row).forEach((value, i) => perRow[i]?.push(value));
        ordinals.push(ordinal);
      }
    }
    await this.#query(INSERT_NOTIFICATIONS, [...perRow, ordinals, ...perPublish]);
  }

  async usersMuting(questions: ReadonlyArray<MutingQuestion | null>): Promise<Array<Set<string>>> {
    const answers = questions.map(() => new Set<string>());
    const reqs: number[] = [];
    const users: string[] = [];
    for (const [i, question] of questions.entries()) {
      for (const user of question?.users ?? []) {
        reqs.push(i + 1);
        users.push(user);
      }
    }
    if (users.length === 0) return answers;
    const patterns = questions.map((question) => question?.patterns.join(' ') ?? '');
    for (const row of await this.#query<{ req: number; user_id: string }>(PG_USERS_MUTING, [reqs, users, patterns])) {
      answers[Number(row.req) - 1]?.add(row.user_id);
    }
    return answers;
  }

  async notificationsByIds(ids: readonly string[]): Promise<NotificationRow[]> {
    if (ids.length === 0) return [];
    return this.#query<NotificationRow>(BY_IDS, [[...ids]]);
  }

  async enqueuePushes(pushes: readonly QueuedPush[]): Promise<void> {
    if (pushes.length === 0) return;
    await this.#query(ENQUEUE_PUSHES, [
      pushes.map((p) => p.notificationId), pushes.map((p) => p.user), pushes.map((p) => p.policy), pushes.map((p) => p.dueAt), pushes.map((p) => p.createdAt),
    ]);
  }
}

/** The statements in a Kysely transaction (or on its pool), unnamed: Kysely runs one-off queries. */
export function kyselyPgStatements(db: Kysely<Database>): PgStatements {
  return new PgStatements(async <R>(statement: PgStatement, values: unknown[]) => (await db.executeQuery<R>(CompiledQuery.raw(statement.text, values))).rows as R[]);
}
