import { Migrator, sql, type ExpressionBuilder, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import { HeraldError, isDiskFull } from '../errors.js';
import { neverBack, systemClock, type Clock } from '../domain/clock.js';
import { GroupCommit, type BatchWriter, type CommitObserver, type Outcome } from './group-commit.js';
import { migrations, type Dialect } from './migrations.js';
import { KyselyRetentionStore, type RetentionStore } from './retention.js';
import { KyselyPushStore, type PushStore } from './push-store.js';
import { refusedText } from './pg-writer.js';
import { publishWeight, toNotification } from './rows.js';
import { notMutedBy, usersMutingIn } from './mutes.js';
import { anyDue, nextDueAt } from './scheduled.js';
import type { StoreWrites } from './writes.js';
import type { Database } from './schema.js';
import type {
  Audience, CancelOutcome, ExpiredNotification, ExpiryPageStart, InboxPage, InboxQuery, Notification, NotificationStore, PublishRequest, PublishResult,
  StateChange, TopicEvent, UnreadSnapshot, WokenSnooze, WriterHeap,
} from './store.js';

/**
 * A publish transaction holds at most this many publishes and stored notifications (one
 * publish to more recipients than that still goes, alone): a bounded wait for those queued
 * behind it, and bounded statement sizes.
 */
export const PUBLISH_BATCH = { maxRequests: 256, maxWeight: 4000 };

export interface KyselyStoreOptions {
  /** Expiry and snooze are judged at this clock's now (tests move it), which never goes back. */
  clock?: Clock;
  /** Scheduled rows one publisher may have waiting at once. */
  maxScheduledPerPublisher?: number;
  /** Where writes besides publishes run: on `db` (KyselyWrites), or a SQLite file's on the writer thread. */
  writes: StoreWrites;
  /** The writer thread's heap, when writes run on one. */
  writerHeap?: () => Promise<WriterHeap>;
}

/**
 * The NotificationStore: reads on Kysely, shared by both dialects except where SQL differs
 * (the snapshot's isolation level, array parameters, collations: marked where they are);
 * publishes through a dialect's own batch writer, and the other writes through
 * StoreWrites (src/store/writes.ts).
 */
export class KyselyNotificationStore implements NotificationStore {
  #epoch = '';
  #diskFull = false;

  readonly #publishes: GroupCommit<PublishRequest, PublishResult>;
  readonly #writes: StoreWrites;

  readonly #db: Kysely<Database>;
  readonly #dialect: Dialect;
  readonly #writer: BatchWriter<PublishRequest, PublishResult>;
  readonly #clock: Clock;
  readonly #maxScheduledPerPublisher: number;
  readonly #writerHeap: (() => Promise<WriterHeap>) | null;

  constructor(
    db: Kysely<Database>,
    dialect: Dialect,
    writer: BatchWriter<PublishRequest, PublishResult>,
    options: KyselyStoreOptions,
  ) {
    this.#maxScheduledPerPublisher = options.maxScheduledPerPublisher ?? Infinity;
    this.#db = db;
    this.#dialect = dialect;
    this.#writer = writer;
    this.#clock = neverBack(options.clock ?? systemClock);
    this.#publishes = new GroupCommit(writer, PUBLISH_BATCH, publishWeight);
    this.#writes = options.writes;
    this.#writerHeap = options.writerHeap ?? null;
  }

  get epoch(): string {
    return this.#epoch;
  }

  /** The query builder on this store's database: for tests and tools that read rows directly. */
  get db(): Kysely<Database> {
    return this.#db;
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.#db,
      provider: { getMigrations: async () => migrations(this.#dialect) },
      migrationTableName: 'herald_migrations',
      migrationLockTableName: 'herald_migrations_lock',
    });
    // A newer version migrated this database (a rolling upgrade, or a rollback): its
    // migrations only add, so this version runs on it as it is.
    if (!(await this.#migratedByNewerVersion())) {
      const { error } = await migrator.migrateToLatest();
      if (error) throw error;
    }
    await this.attach();
  }

  async attach(): Promise<void> {
    const row = await this.#db.selectFrom('herald_meta').select('value').where('key', '=', 'epoch').executeTakeFirstOrThrow();
    this.#epoch = row.value;
  }

  /** True when every migration this version knows ran, and others it does not know ran too. */
  async #migratedByNewerVersion(): Promise<boolean> {
    let executed: string[];
    try {
      executed = (await sql<{ name: string }>`select name from herald_migrations`.execute(this.#db)).rows.map((row) => row.name);
    } catch {
      return false; // a new database: no migration table yet
    }
    const known = Object.keys(migrations(this.#dialect));
    return known.every((name) => executed.includes(name)) && executed.some((name) => !known.includes(name));
  }

  /**
   * Concurrent publishes share a transaction (see group-commit.ts); each answers after its
   * commit. Recipients who muted the type are left out (and answered as `suppressed`).
   */
  publish(request: PublishRequest): Promise<PublishResult> {
    // A scheduled publish takes no sequence number now: it waits outside the topics.
    if (request.deliverAt != null) {
      return this.#schedule(request).catch((err: unknown) => {
        throw refusedText(err) ?? err;
      });
    }
    return this.#noteDisk(this.#publishes.submit(request));
  }

  async publishBatch(requests: readonly PublishRequest[]): Promise<Array<Outcome<PublishResult>>> {
    const immediate = requests.filter((request) => request.deliverAt == null);
    const written = await this.#noteDisk(this.#publishes.submitTogether(immediate));
    let next = 0;
    const outcomes: Array<Outcome<PublishResult>> = [];
    for (const request of requests) {
      if (request.deliverAt == null) {
        outcomes.push(written[next++] as Outcome<PublishResult>);
        continue;
      }
      outcomes.push(await this.publish(request).then((value) => ({ ok: true, value }), (error: unknown) => ({ ok: false, error })));
    }
    return outcomes;
  }

  /** Scheduled publishes are rare: stored (with their mute check) on the write path of their own. */
  #schedule(request: PublishRequest): Promise<PublishResult> {
    return this.#noteDisk(this.#writes.schedule(request, this.#now(), this.#maxScheduledPerPublisher));
  }

  #now(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  observeCommits(observer: CommitObserver): void {
    this.#publishes.observe(observer);
  }

  /** Transactions the publish path has committed; tests read it to see publishes share one. */
  get publishTransactions(): number {
    return this.#publishes.transactions;
  }

  async eventsAfter(topic: string, afterSeq: number, limit: number, reader?: string): Promise<TopicEvent[]> {
    if (reader === undefined) {
      const rows = await this.#db.selectFrom('notifications').selectAll()
        .where('topic', '=', topic).where('seq', '>', afterSeq)
        .orderBy('seq').limit(limit).execute();
      return rows.map((row) => ({ topic: row.topic, seq: Number(row.seq), notification: toNotification(row, null), critical: Number(row.critical) === 1 }));
    }
    const now = this.#now();
    const rows = await this.#db.selectFrom('notifications as n')
      .leftJoin('receipts as r', (join) => join.onRef('r.notification_pk', '=', 'n.pk').on('r.user_id', '=', reader))
      .selectAll('n')
      .select(['r.read_at', 'r.seen_at', 'r.archived_at', 'r.snoozed_until'])
      .where('n.topic', '=', topic).where('n.seq', '>', afterSeq)
      .where(notMutedBy(reader))
      // Expired: never replayed. (The hub's gap fill, without a reader, must not skip a sequence.)
      .where(notExpired(now))
      .orderBy('n.seq').limit(limit).execute();
    return rows.map((row) => ({ topic: row.topic, seq: Number(row.seq), notification: toNotification(row, row, now), critical: Number(row.critical) === 1 }));
  }

  async idsAt(positions: ReadonlyArray<readonly [string, number]>): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    for (let i = 0; i < positions.length; i += 200) {
      const chunk = positions.slice(i, i + 200);
      const rows = await this.#db.selectFrom('notifications').select(['topic', 'seq', 'id'])
        .where((eb) => eb.or(chunk.map(([topic, seq]) => eb.and([eb('topic', '=', topic), eb('seq', '=', seq)]))))
        .execute();
      for (const row of rows) ids.set(`${row.topic}\n${Number(row.seq)}`, row.id);
    }
    return ids;
  }

  async heads(topics: readonly string[]): Promise<Map<string, number>> {
    return headsIn(this.#db, topics);
  }

  async unreadSnapshot(audience: Audience): Promise<UnreadSnapshot> {
    // One snapshot for both reads, so the stream can count exactly the events after it.
    const tx = this.#dialect === 'postgres' ? this.#db.transaction().setIsolationLevel('repeatable read') : this.#db.transaction().setAccessMode('read only');
    return tx.execute(async (trx) => {
      const heads = await headsIn(trx, audience.topics);
      const mutedTypes = await mutedTypesOf(trx, audience.user);
      const unread = await countUnread(trx, this.#dialect, audience, this.#now(), mutedTypes);
      return { heads, unread, mutedTypes };
    });
  }

  async listInbox(audience: Audience, query: InboxQuery): Promise<InboxPage> {
    const now = this.#now();
    // One branch per topic, each read newest first from its (topic, pk) index and stopped at
    // a page: rows of several topics in one scan would all be read and sorted (70,000 of a
    // broadcast topic for every page). A read or archived page holds only notifications the
    // reader has a receipt for: one branch walks the reader's receipts newest first (their
    // primary key) instead of every notification of the topics. A snoozed page starts from
    // the reader's snoozed receipts (the (user_id, snoozed_until) index).
    const fromReceipts = query.status === 'read' || query.archived;
    const branch = (topics: string[]) => {
      const joined = this.#db.selectFrom('notifications as n')
        .leftJoin('receipts as r', (join) => join.onRef('r.notification_pk', '=', 'n.pk').on('r.user_id', '=', audience.user));
      let q = (fromReceipts
        ? this.#db.selectFrom('receipts as r').innerJoin('notifications as n', 'n.pk', 'r.notification_pk')
          .where('r.user_id', '=', audience.user) as unknown as typeof joined
        : joined)
        .selectAll('n')
        .select(['r.read_at', 'r.seen_at', 'r.archived_at', 'r.snoozed_until'])
        .where('n.topic', 'in', topics)
        .where('r.archived_at', query.archived ? 'is not' : 'is', null)
        .where(notMutedBy(audience.user))
        .where(notExpired(now))
        .where((eb) => (query.status === 'snoozed' ? eb('r.snoozed_until', '>', now) : notSnoozed(now)(eb)));
      if (query.status === 'unread') q = q.where('r.read_at', 'is', null);
      if (query.status === 'read') q = q.where('r.read_at', 'is not', null);
      if (query.type !== null) q = q.where(this.#dialect === 'postgres' ? sql<SqlBool>`n.type collate "C" = ${query.type}` : sql<SqlBool>`n.type = ${query.type}`);
      if (query.before !== null) q = q.where(fromReceipts ? 'r.notification_pk' : 'n.pk', '<', query.before);
      return q.orderBy(fromReceipts ? 'r.notification_pk' : 'n.pk', 'desc').limit(query.limit + 1);
    };
    const branches = fromReceipts ? [[...audience.topics]] : audience.topics.map((topic) => [topic]);
    const [first, ...others] = branches.map((topics, i) => this.#db.selectFrom(branch(topics).as(`t${i}`)).selectAll());
    if (!first) return { items: [], nextBefore: null };
    const rows = await others.reduce((union, next) => union.unionAll(next), first).orderBy('pk', 'desc').limit(query.limit + 1).execute();
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((row) => toNotification(row, row, now)),
      nextBefore: rows.length > query.limit && last ? Number(last.pk) : null,
    };
  }

  updateState(audience: Audience, id: string, change: StateChange): Promise<Notification | null> {
    return this.#noteDisk(this.#writes.updateState(audience, id, change, this.#now()));
  }

  markAll(audience: Audience, what: 'read' | 'seen', upToId: string | null): Promise<number> {
    return this.#noteDisk(this.#writes.markAll(audience, what, upToId, this.#now()));
  }

  redeemOnce(id: string, expiresAtMs: number): Promise<boolean> {
    return this.#noteDisk(this.#writes.redeemOnce(id, expiresAtMs));
  }

  async mutedTypes(user: string): Promise<string[]> {
    return mutedTypesOf(this.#db, user);
  }

  setMutedTypes(user: string, patterns: readonly string[]): Promise<void> {
    return this.#noteDisk(this.#writes.setMutedTypes(user, patterns));
  }

  usersMuting(users: readonly string[], type: string): Promise<Set<string>> {
    return usersMutingIn(this.#db, this.#dialect, users, type);
  }

  async databaseTimeMs(): Promise<number> {
    const query = this.#dialect === 'postgres'
      ? sql<{ ms: number | string }>`select extract(epoch from clock_timestamp()) * 1000 as ms`
      : sql<{ ms: number | string }>`select (julianday('now') - 2440587.5) * 86400000.0 as ms`;
    return Number((await query.execute(this.#db)).rows[0]?.ms);
  }

  /** Notes whether writes fail for a full disk (ping then says so) or succeed again. */
  #noteDisk<T>(write: Promise<T>): Promise<T> {
    return write.then((value) => {
      this.#diskFull = false;
      return value;
    }, (err: unknown) => {
      if (isDiskFull(err)) this.#diskFull = true;
      throw err;
    });
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
    // Reads still work on a full disk; writes fail until space is freed (then resume by themselves).
    if (this.#diskFull) throw new HeraldError('unavailable', 'The database\'s disk is full: free space on it; publishing resumes by itself.');
    // Reads work while the SQLite writer thread restarts; publishes do not.
    if (this.#writer.healthy === false) throw new HeraldError('unavailable', 'The publish writer is restarting.');
  }

  async writerHeap(): Promise<WriterHeap | null> {
    return this.#writerHeap ? this.#writerHeap() : null;
  }

  async close(): Promise<void> {
    await this.#publishes.idle();
    await this.#writer.close?.();
    await this.#db.destroy();
  }

  retention(): RetentionStore {
    return new KyselyRetentionStore(this.#db, this.#dialect, this.#writes);
  }

  push(): PushStore {
    return new KyselyPushStore(this.#db, this.#writes);
  }

  async deliverDue(now: string, limit: number): Promise<TopicEvent[]> {
    // Most looks find nothing due: answered with a read, the write path is not asked.
    if (!(await anyDue(this.#db, now))) return [];
    return this.#noteDisk(this.#writes.deliverDue(now, limit));
  }

  nextDueAt(): Promise<string | null> {
    return nextDueAt(this.#db);
  }

  cancelScheduled(publisher: string, id: string): Promise<CancelOutcome> {
    return this.#noteDisk(this.#writes.cancelScheduled(publisher, id, this.#now()));
  }

  async cancelScheduledMany(publisher: string, ids: readonly string[]): Promise<Map<string, CancelOutcome>> {
    return new Map(await this.#noteDisk(this.#writes.cancelScheduledMany(publisher, ids, this.#now())));
  }

  async idsPublishedWithKey(publisher: string, key: string): Promise<string[] | null> {
    const row = await this.#db.selectFrom('idempotency_keys').select('response').where('publisher', '=', publisher).where('key', '=', key).executeTakeFirst();
    if (!row) return null;
    if (row.response === '') return [];
    const stored = JSON.parse(row.response) as { ids: string[] } | Array<{ notification: { id: string } }>;
    // Keys written before ids were stored compactly hold the whole answer.
    return Array.isArray(stored) ? stored.map((event) => event.notification.id) : stored.ids;
  }

  async expiredBetween(start: ExpiryPageStart, upTo: string, limit: number): Promise<ExpiredNotification[]> {
    const rows = await this.#db.selectFrom('notifications').select(['id', 'topic', 'expires_at'])
      .where('expires_at', '<=', upTo)
      .where((eb) => (start.id === null
        ? eb('expires_at', '>', start.after)
        : eb.or([eb('expires_at', '>', start.after), eb.and([eb('expires_at', '=', start.after), eb('id', '>', start.id)])])))
      .orderBy('expires_at').orderBy('id').limit(limit).execute();
    return rows.map((row) => ({ id: row.id, topic: row.topic, expires_at: row.expires_at as string }));
  }

  async wokenBetween(after: string, upTo: string): Promise<WokenSnooze[]> {
    return this.#db.selectFrom('receipts as r').innerJoin('notifications as n', 'n.pk', 'r.notification_pk')
      .select(['r.user_id as user', 'n.id as id'])
      .where('r.snoozed_until', '>', after).where('r.snoozed_until', '<=', upTo).execute();
  }

  async lowestKeptSeq(topic: string): Promise<number> {
    const row = await this.#db.selectFrom('notifications').select((eb) => eb.fn.min<number | string>('seq').as('low'))
      .where('topic', '=', topic).executeTakeFirst();
    if (row?.low !== null && row?.low !== undefined) return Number(row.low);
    return ((await headsIn(this.#db, [topic])).get(topic) ?? 0) + 1;
  }
}

/**
 * Topics per `in (…)` list: far below the bound parameters a statement may hold (32,766 on
 * SQLite, 65,535 on PostgreSQL), which a node following every user's topic passes.
 */
const HEADS_PAGE = 5000;

async function headsIn(db: Kysely<Database>, topics: readonly string[]): Promise<Map<string, number>> {
  const heads = new Map<string, number>(topics.map((t) => [t, 0]));
  for (let start = 0; start < topics.length; start += HEADS_PAGE) {
    const page = topics.slice(start, start + HEADS_PAGE);
    const rows = await db.selectFrom('topics').select(['name', 'head']).where('name', 'in', page).execute();
    for (const row of rows) heads.set(row.name, Number(row.head));
  }
  return heads;
}

async function mutedTypesOf(db: Kysely<Database>, user: string): Promise<string[]> {
  const rows = await db.selectFrom('muted_types').select('pattern').where('user_id', '=', user).execute();
  // Sorted here, not by the database, whose collation may order `.`, `_` and `-` otherwise:
  // the list reads back exactly as normalizeMutes answered it.
  return rows.map((row) => row.pattern).sort();
}

/**
 * The reader's unread notifications: the topics' live notifications, from the topics' row
 * counts and the index of expiring rows, less those hidden by the reader's mutes, counted per
 * muted entry from the (topic, type, …) index alone, less the ones this reader read,
 * archived or snoozed among the rest, found from the reader's own receipts. A stream open or
 * a count then costs index pages, never a read of every row of a long broadcast topic.
 */
async function countUnread(db: Kysely<Database>, dialect: Dialect, audience: Audience, now: string, mutedTypes: readonly string[]): Promise<number> {
  const topics = [...audience.topics];
  // The topics' stored rows (head less the rows deleted) less their expired ones,
  // from the index of rows that have an expiry: constant in a topic's backlog.
  const stored = await db.selectFrom('topics')
    .select(sql<number | string | null>`sum(head - deleted)`.as('count'))
    .where('name', 'in', topics)
    .executeTakeFirstOrThrow();
  const expired = await db.selectFrom('notifications as n')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('n.topic', 'in', topics)
    .where('n.expires_at', 'is not', null)
    .where('n.expires_at', '<=', now)
    .executeTakeFirstOrThrow();
  const live = { count: Number(stored.count ?? 0) - Number(expired.count) };
  const matches = typeMatches(mutedTypes, dialect);
  let hidden = 0;
  if (matches.length > 0) {
    // One count per entry (they match disjoint types, so the sum counts each row once): each
    // is a range of the index, where one count of all of them ORed scans the topic's entries.
    const inTopics = sql.join(topics.map((topic) => sql`${topic}`));
    const counts = matches.map((match) => sql`(select count(*) from notifications n where n.topic in (${inTopics})
      and n.recipient is null and n.critical = 0 and ${match} and (n.expires_at is null or n.expires_at > ${now}))`);
    const { rows } = await sql<{ count: number | string }>`select ${sql.join(counts, sql` + `)} as count`.execute(db);
    hidden = Number(rows[0]?.count ?? 0);
  }
  let done = db.selectFrom('receipts as r')
    .innerJoin('notifications as n', 'n.pk', 'r.notification_pk')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('r.user_id', '=', audience.user)
    .where('n.topic', 'in', topics)
    .where(notExpired(now))
    .where((eb) => eb.or([eb('r.read_at', 'is not', null), eb('r.archived_at', 'is not', null), eb('r.snoozed_until', '>', now)]));
  // Hidden ones were taken off already, read or not.
  if (matches.length > 0) done = done.where(sql<SqlBool>`not (n.recipient is null and n.critical = 0 and (${sql.join(matches, sql` or `)}))`);
  const { count } = await done.executeTakeFirstOrThrow();
  return Number(live.count) - hidden - Number(count);
}

/**
 * What the reader's muted entries match, as conditions on `n.type` that the (topic, type, …)
 * index answers and that match disjoint sets of types: the exact types in one list, each
 * prefix as a range in byte order (`social.` <= type < `social/`: exactly the types that
 * start with `social.`). Entries inside a shorter prefix are dropped: it matches them.
 */
function typeMatches(mutedTypes: readonly string[], dialect: Dialect): RawBuilder<SqlBool>[] {
  const prefixes = mutedTypes.filter((p) => p.endsWith('.*')).map((p) => p.slice(0, -1)).sort();
  const outer = prefixes.filter((p, i) => !prefixes.slice(0, i).some((shorter) => p.startsWith(shorter)));
  const types = mutedTypes.filter((p) => !p.endsWith('.*') && !outer.some((prefix) => p.startsWith(prefix)));
  // The index holds PostgreSQL's `type` in "C" order (migration 0009): the same order here.
  const type = dialect === 'postgres' ? sql`n.type collate "C"` : sql`n.type`;
  return [
    ...(types.length > 0 ? [sql<SqlBool>`${type} in (${sql.join(types.map((t) => sql`${t}`))})`] : []),
    // A prefix ends in `.`; the next character in byte order is `/`.
    ...outer.map((prefix) => sql<SqlBool>`(${type} >= ${prefix} and ${type} < ${`${prefix.slice(0, -1)}/`})`),
  ];
}

/** Not past its expiry at `now` (ISO): what lists, counts and replays keep. */
function notExpired(now: string) {
  return (eb: ExpressionBuilder<{ n: Database['notifications'] }, 'n'>) => eb.or([eb('n.expires_at', 'is', null), eb('n.expires_at', '>', now)]);
}

/** Not snoozed until after `now` (ISO): what every status but `snoozed` lists. */
function notSnoozed(now: string) {
  return (eb: ExpressionBuilder<{ r: Database['receipts'] }, 'r'>) => eb.or([eb('r.snoozed_until', 'is', null), eb('r.snoozed_until', '<=', now)]);
}
