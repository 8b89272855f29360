// The SQLite publish path: statements prepared once and reused, a batch of publishes in one
// transaction. SQLite has one writer, so publishes are written one after the other inside
// it, and each topic's sequence follows commit order by construction.
import { newNotificationId } from './ids.js';
import { patternsMuting } from '../domain/preferences.js';
import { HeraldError } from '../errors.js';
import type { BatchWriter, Outcome } from './group-commit.js';
import type { SqliteDatabase, SqliteStatement } from './node-sqlite.js';
import { newNotification, targetsOf, toNotification, type NotificationRow } from './rows.js';
import type { PublishRequest, PublishResult, TopicEvent } from './store.js';

interface Statements {
  begin: SqliteStatement;
  commit: SqliteStatement;
  rollback: SqliteStatement;
  claimKey: SqliteStatement;
  readKey: SqliteStatement;
  storeIds: SqliteStatement;
  nextSeq: SqliteStatement;
  nextSeqs: SqliteStatement;
  insert: SqliteStatement;
  insertMany: SqliteStatement;
  byIds: SqliteStatement;
  muting: SqliteStatement;
}

export class SqlitePublishWriter implements BatchWriter<PublishRequest, PublishResult> {
  #statements: Statements | null = null;

  /**
   * `exclusive` runs a function while no other query holds the connection (Kysely's
   * reads and transactions share it), so a batch never lands inside someone's transaction.
   */
  readonly #sqlite: SqliteDatabase;
  readonly #exclusive: <T>(fn: () => T) => Promise<T>;

  constructor(
    sqlite: SqliteDatabase,
    exclusive: <T>(fn: () => T) => Promise<T>,
  ) {
    this.#sqlite = sqlite;
    this.#exclusive = exclusive;
  }

  /** Prepared on first use: the tables exist only after the migrations ran. */
  #prepare(): Statements {
    const p = (sql: string) => this.#sqlite.prepare(sql);
    return {
      // IMMEDIATE takes the write lock up front, so another process (a CLI migrate) makes
      // this wait at BEGIN rather than fail at the first write.
      begin: p('begin immediate'),
      commit: p('commit'),
      rollback: p('rollback'),
      claimKey: p(`insert into idempotency_keys (publisher, key, request_hash, response, created_at) values (?, ?, ?, '', ?)
        on conflict (publisher, key) do nothing returning key`),
      readKey: p('select request_hash, response from idempotency_keys where publisher = ? and key = ?'),
      storeIds: p('update idempotency_keys set response = ? where publisher = ? and key = ?'),
      nextSeq: p('insert into topics (name, head) values (?, 1) on conflict (name) do update set head = topics.head + 1 returning head'),
      insert: p(`insert into notifications (id, topic, seq, recipient, type, title, content, data, publisher, created_at, critical, expires_at)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      // Many recipients: one statement per table over a JSON array, not one call per row.
      // (`where true` tells SQLite's parser the upsert's ON CONFLICT is not a join's ON.)
      nextSeqs: p(`insert into topics (name, head) select value, 1 from json_each(?) where true
        on conflict (name) do update set head = topics.head + 1 returning name, head`),
      insertMany: p(`insert into notifications (id, topic, seq, recipient, type, title, content, data, publisher, created_at, critical, expires_at)
        select json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), ?, ?, ?, ?, ?, ?, ?, ?
        from json_each(?) order by key`),
      byIds: p('select * from notifications where id in (select value from json_each(?))'),
      // The recipients whose entries mute the type, by primary key (patternsMuting).
      muting: p(`select distinct user_id from muted_types
        where user_id in (select value from json_each(?)) and pattern in (select value from json_each(?))`),
    };
  }

  write(requests: readonly PublishRequest[]): Promise<Outcome<PublishResult>[]> {
    return this.#exclusive(() => {
      const s = (this.#statements ??= this.#prepare());
      const now = new Date().toISOString();
      s.begin.run([]);
      try {
        const outcomes = requests.map((request) => this.#publish(s, request, now));
        s.commit.run([]);
        return outcomes;
      } catch (err) {
        // Some errors (a full disk) already ended the transaction; nothing is left to undo.
        try {
          s.rollback.run([]);
        } catch {
          // no transaction was open
        }
        throw err;
      }
    });
  }

  #publish(s: Statements, request: PublishRequest, now: string): Outcome<PublishResult> {
    if (request.idempotencyKey !== null) {
      const claimed = s.claimKey.all([request.publisher, request.idempotencyKey, request.requestHash, now]).length > 0;
      if (!claimed) {
        const existing = s.readKey.all([request.publisher, request.idempotencyKey])[0] as { request_hash: string; response: string };
        if (existing.request_hash !== request.requestHash) return { ok: false, error: new HeraldError('idempotency_conflict') };
        return { ok: true, value: { events: this.#storedEvents(s, existing.response), replayed: true } };
      }
    }
    const { kept, suppressed } = this.#withoutMuting(s, request);
    const events: TopicEvent[] = [];
    const targets = targetsOf(kept);
    const data = request.data === null ? null : JSON.stringify(request.data);
    const shared = data === null ? null : (JSON.parse(data) as Record<string, unknown>);
    if (targets.length === 1) {
      const { topic, recipient } = targets[0] as { topic: string; recipient: string | null };
      const seq = Number((s.nextSeq.all([topic])[0] as { head: number | bigint }).head);
      const id = newNotificationId();
      s.insert.run([id, topic, seq, recipient, request.type, request.title, request.content, data, request.publisher, now, request.critical ? 1 : 0, request.expiresAt ?? null]);
      events.push({ topic, seq, notification: newNotification(id, recipient, topic, request, shared, now) });
    } else if (targets.length > 1) {
      // Recipients are distinct (toPublishRequest), so each topic moves by one.
      const heads = new Map<string, number>();
      for (const row of s.nextSeqs.all([JSON.stringify(targets.map((t) => t.topic))]) as Array<{ name: string; head: number | bigint }>) {
        heads.set(row.name, Number(row.head));
      }
      const rows = targets.map(({ topic, recipient }) => [newNotificationId(), topic, heads.get(topic) as number, recipient] as const);
      s.insertMany.run([request.type, request.title, request.content, data, request.publisher, now, request.critical ? 1 : 0, request.expiresAt ?? null, JSON.stringify(rows)]);
      for (const [id, topic, seq, recipient] of rows) events.push({ topic, seq, notification: newNotification(id, recipient, topic, request, shared, now) });
    }
    if (request.idempotencyKey !== null) {
      // Only the ids: the replay reads the rows back, so a key costs ~40 bytes per notification.
      s.storeIds.run([JSON.stringify({ ids: events.map((e) => e.notification.id) }), request.publisher, request.idempotencyKey]);
    }
    return { ok: true, value: { events, replayed: false, suppressed } };
  }

  /** The request without the recipients who muted its type (a critical publish ignores mutes). */
  #withoutMuting(s: Statements, request: PublishRequest): { kept: PublishRequest; suppressed: string[] } {
    const recipients = request.recipients;
    if (recipients === null || request.critical) return { kept: request, suppressed: [] };
    const rows = s.muting.all([JSON.stringify(recipients), JSON.stringify(patternsMuting(request.type))]) as Array<{ user_id: string }>;
    if (rows.length === 0) return { kept: request, suppressed: [] };
    const muting = new Set(rows.map((row) => row.user_id));
    return {
      kept: { ...request, recipients: recipients.filter((r) => !muting.has(r)) },
      suppressed: recipients.filter((r) => muting.has(r)),
    };
  }

  #storedEvents(s: Statements, response: string): TopicEvent[] {
    const stored = JSON.parse(response) as { ids: string[] } | TopicEvent[];
    // Keys written before ids were stored compactly hold the whole answer.
    if (Array.isArray(stored)) return stored;
    const byId = new Map<string, TopicEvent>();
    for (const row of s.byIds.all([JSON.stringify(stored.ids)]) as NotificationRow[]) {
      byId.set(row.id, { topic: row.topic, seq: Number(row.seq), notification: toNotification(row, null) });
    }
    return stored.ids.flatMap((id) => byId.get(id) ?? []);
  }
}
