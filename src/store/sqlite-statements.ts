// The publish statements on SQLite: prepared once and reused, synchronous, run on the
// writer's connection inside the transaction of whoever calls them. Many rows go in one
// statement over a JSON array (json_each), not one call per row.
import type { KeyClaim, KeyRef, KeyResponse, MutingQuestion, QueuedPush, StoredKey } from './publish-plan.js';
import type { PublishStatements } from './publish-statements.js';
import type { SqliteDatabase, SqliteStatement } from './node-sqlite.js';
import { NOTIFICATION_COLUMNS, ROW_COLUMNS, publishValues, rowValues, runsOfPublish, type NotificationRow, type StoredNotification } from './rows.js';

const COLUMN_LIST = NOTIFICATION_COLUMNS.map((c) => c.name).join(', ');

/** One notification: every column a parameter, in NOTIFICATION_COLUMNS order. */
const INSERT_ONE = `insert into notifications (${COLUMN_LIST}) values (${NOTIFICATION_COLUMNS.map(() => '?').join(', ')})`;

/**
 * A publish's rows: the per-row columns from a JSON array of arrays (rowValues), the
 * publish's columns once, as parameters before it (publishValues).
 */
const INSERT_RUN = `insert into notifications (${COLUMN_LIST})
  select ${NOTIFICATION_COLUMNS.map((c) => (c.perRow ? `json_extract(value, '$[${ROW_COLUMNS.indexOf(c)}]')` : '?')).join(', ')}
  from json_each(?) order by key`;

/** The recipients whose entries mute the type, by primary key (patternsMuting); mutes.ts asks it too. */
export const SQLITE_USERS_MUTING = `select distinct user_id from muted_types
  where user_id in (select value from json_each(?)) and pattern in (select value from json_each(?))`;

// (`where true` tells SQLite's parser an upsert's ON CONFLICT is not a join's ON.)
const SQL = {
  claimKeys: `insert into idempotency_keys (publisher, key, request_hash, response, created_at)
    select json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), '', ? from json_each(?) where true
    on conflict (publisher, key) do nothing returning publisher, key`,
  readKeys: `select k.publisher, k.key, k.request_hash, k.response from json_each(?) u
    join idempotency_keys k on k.publisher = json_extract(u.value, '$[0]') and k.key = json_extract(u.value, '$[1]')`,
  storeResponse: 'update idempotency_keys set response = ? where publisher = ? and key = ?',
  advanceHead: `insert into topics (name, head) values (?, ?)
    on conflict (name) do update set head = topics.head + excluded.head returning name, head`,
  advanceHeads: `insert into topics (name, head) select json_extract(value, '$[0]'), json_extract(value, '$[1]') from json_each(?) where true
    on conflict (name) do update set head = topics.head + excluded.head returning name, head`,
  insertOne: INSERT_ONE,
  insertRun: INSERT_RUN,
  usersMuting: SQLITE_USERS_MUTING,
  byIds: 'select * from notifications where id in (select value from json_each(?))',
  // Only users with a subscription (their index answers): a publish to 1000 users without
  // one queues nothing.
  enqueuePushes: `insert into push_queue (notification_id, user_id, policy, due_at, created_at)
    select json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]')
    from json_each(?) where exists (select 1 from push_subscriptions s where s.user_id = json_extract(value, '$[1]'))`,
};

type Prepared = Record<keyof typeof SQL, SqliteStatement>;

export class SqliteStatements implements PublishStatements<true> {
  readonly #sqlite: SqliteDatabase;
  #prepared: Prepared | null = null;

  constructor(sqlite: SqliteDatabase) {
    this.#sqlite = sqlite;
  }

  /** Prepared on first use: the tables exist only after the migrations ran. */
  get #s(): Prepared {
    return (this.#prepared ??= Object.fromEntries(Object.entries(SQL).map(([name, text]) => [name, this.#sqlite.prepare(text)])) as Prepared);
  }

  claimKeys(claims: readonly KeyClaim[], now: string): KeyRef[] {
    if (claims.length === 0) return [];
    return this.#s.claimKeys.all([now, JSON.stringify(claims.map((c) => [c.publisher, c.key, c.requestHash]))]) as KeyRef[];
  }

  readKeys(keys: readonly KeyRef[]): StoredKey[] {
    if (keys.length === 0) return [];
    const rows = this.#s.readKeys.all([JSON.stringify(keys.map((k) => [k.publisher, k.key]))]) as Array<{ publisher: string; key: string; request_hash: string; response: string }>;
    return rows.map((row) => ({ publisher: row.publisher, key: row.key, requestHash: row.request_hash, response: row.response }));
  }

  storeResponses(responses: readonly KeyResponse[]): void {
    for (const { publisher, key, response } of responses) this.#s.storeResponse.run([response, publisher, key]);
  }

  // One writer: SQLite's topics need no lock order; a single topic skips the JSON.
  advanceHeads(counts: ReadonlyMap<string, number>): Map<string, number> {
    if (counts.size === 0) return new Map();
    const rows = (counts.size === 1
      ? this.#s.advanceHead.all([...counts][0] as [string, number])
      : this.#s.advanceHeads.all([JSON.stringify([...counts])])) as Array<{ name: string; head: number | bigint }>;
    return new Map(rows.map((row) => [row.name, Number(row.head)]));
  }

  insertNotifications(rows: readonly StoredNotification[]): void {
    for (const run of runsOfPublish(rows)) {
      const first = run[0] as StoredNotification;
      if (run.length === 1) this.#s.insertOne.run(NOTIFICATION_COLUMNS.map((c) => first[c.name]));
      else this.#s.insertRun.run([...publishValues(first), JSON.stringify(run.map(rowValues))]);
    }
  }

  // Questions with the same patterns (publishes of one type: a batch's, most often) share
  // one statement over all their users, rather than one statement each.
  usersMuting(questions: ReadonlyArray<MutingQuestion | null>): Array<Set<string>> {
    const byPatterns = new Map<string, { patterns: readonly string[]; users: Set<string> }>();
    for (const question of questions) {
      if (question === null || question.users.length === 0) continue;
      const key = JSON.stringify(question.patterns);
      const group = byPatterns.get(key) ?? byPatterns.set(key, { patterns: question.patterns, users: new Set() }).get(key) as { patterns: readonly string[]; users: Set<string> };
      for (const user of question.users) group.users.add(user);
    }
    const muting = new Map<string, Set<string>>();
    for (const [key, { patterns, users }] of byPatterns) {
      const rows = this.#s.usersMuting.all([JSON.stringify([...users]), JSON.stringify(patterns)]) as Array<{ user_id: string }>;
      muting.set(key, new Set(rows.map((row) => row.user_id)));
    }
    return questions.map((question) => {
      const found = question === null ? undefined : muting.get(JSON.stringify(question.patterns));
      if (question === null || found === undefined || found.size === 0) return new Set<string>();
      return new Set(question.users.filter((user) => found.has(user)));
    });
  }

  notificationsByIds(ids: readonly string[]): NotificationRow[] {
    if (ids.length === 0) return [];
    return this.#s.byIds.all([JSON.stringify(ids)]) as NotificationRow[];
  }

  enqueuePushes(pushes: readonly QueuedPush[]): void {
    if (pushes.length === 0) return;
    this.#s.enqueuePushes.run([JSON.stringify(pushes.map((p) => [p.notificationId, p.user, p.policy, p.dueAt, p.createdAt]))]);
  }
}
