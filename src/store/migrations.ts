import { sql, type Kysely, type Migration } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

// Versioned, append-only: never edit a migration that has shipped; add the next one.
export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema.createTable('herald_meta')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createTable('topics')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('head', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createTable('notifications')
          .addColumn('pk', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement())
          .addColumn('id', 'text', (c) => c.notNull().unique())
          .addColumn('topic', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('recipient', 'text')
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('title', 'text')
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('data', 'text')
          .addColumn('publisher', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('notifications_topic_seq', ['topic', 'seq'])
          .execute();
        await db.schema.createIndex('notifications_topic_pk').on('notifications').columns(['topic', 'pk']).execute();
        await db.schema.createTable('receipts')
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('notification_pk', 'bigint', (c) => c.notNull())
          .addColumn('read_at', 'text')
          .addColumn('seen_at', 'text')
          .addColumn('archived_at', 'text')
          .addPrimaryKeyConstraint('receipts_pk', ['user_id', 'notification_pk'])
          .execute();
        await db.schema.createTable('idempotency_keys')
          .addColumn('publisher', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('request_hash', 'text', (c) => c.notNull())
          .addColumn('response', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('idempotency_keys_pk', ['publisher', 'key'])
          .execute();
        // The epoch names this database in stream cursors: a cursor from another database
        // (restored backup, wiped file) is recognised and answered with `reset`.
        await sql`insert into herald_meta (key, value) values ('epoch', ${randomEpoch()})`.execute(db);
      },
    },
    '0002_redeemed_tickets': {
      async up(db: Kysely<unknown>) {
        // One-time stream tickets are redeemed here, so a ticket opens one stream in the
        // whole cluster, not one per node.
        await db.schema.createTable('redeemed_tickets')
          .addColumn('jti', 'text', (c) => c.primaryKey())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('redeemed_tickets_expires_at').on('redeemed_tickets').column('expires_at').execute();
      },
    },
    '0003_retention_indexes': {
      async up(db: Kysely<unknown>) {
        // Retention deletes the oldest rows in batches (src/store/retention.ts): without these
        // each batch would scan the whole table.
        await db.schema.createIndex('notifications_created_at').on('notifications').column('created_at').execute();
        await db.schema.createIndex('idempotency_keys_created_at').on('idempotency_keys').column('created_at').execute();
      },
    },
    '0004_preferences': {
      async up(db: Kysely<unknown>) {
        // The types each user muted: an entry as written (`promo`, `social.*`) and, for a
        // prefix, the text it starts with (`social.`). Reads match topic notifications
        // against it with substr/length, never LIKE (`_` and `%` may occur in types).
        await db.schema.createTable('muted_types')
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('pattern', 'text', (c) => c.notNull())
          .addColumn('prefix', 'text')
          .addPrimaryKeyConstraint('muted_types_pk', ['user_id', 'pattern'])
          .execute();
        // A critical notification reaches its readers whatever they muted. An integer in both
        // dialects: SQLite has no boolean and its drivers cannot bind one.
        await db.schema.alterTable('notifications')
          .addColumn('critical', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0005_timed': {
      async up(db: Kysely<unknown>) {
        // Scheduled notifications wait here, outside the notifications table, so they take
        // their topic sequence only when delivered and resume stays exact. Each row is the
        // prepared notification with the id it will keep.
        await db.schema.createTable('scheduled_notifications')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('topic', 'text', (c) => c.notNull())
          .addColumn('recipient', 'text')
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('title', 'text')
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('data', 'text')
          .addColumn('publisher', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('deliver_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text')
          .addColumn('critical', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.createIndex('scheduled_notifications_deliver_at').on('scheduled_notifications').column('deliver_at').execute();
        // Times are ISO-8601 UTC text of one length, so text order is time order.
        await db.schema.alterTable('notifications').addColumn('expires_at', 'text').execute();
        await db.schema.createIndex('notifications_expires_at').on('notifications').column('expires_at').execute();
        await db.schema.alterTable('receipts').addColumn('snoozed_until', 'text').execute();
        await db.schema.createIndex('receipts_snoozed_until').on('receipts').column('snoozed_until').execute();
      },
    },
    '0006_expired_scheduled': {
      async up(db: Kysely<unknown>) {
        // A scheduled notification that expired before it could be delivered (Herald was down
        // past both times) is dropped; its id stays here so cancelling it answers that it
        // expired rather than that it never existed.
        await db.schema.createTable('expired_scheduled')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('publisher', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('expired_scheduled_created_at').on('expired_scheduled').column('created_at').execute();
      },
    },
    '0007_topic_index_with_expiry': {
      async up(db: Kysely<unknown>) {
        // The same index, with expires_at at its end: a reader's unread count at stream open
        // counts a shared topic's live notifications from the index alone, instead of reading
        // every row of the topic (4.4 ms per open at 13k broadcast notifications, 0.5 ms now).
        await db.schema.dropIndex('notifications_topic_pk').execute();
        await db.schema.createIndex('notifications_topic_pk').on('notifications').columns(['topic', 'pk', 'expires_at']).execute();
      },
    },
    '0008_scheduled_by_publisher': {
      async up(db: Kysely<unknown>) {
        // Each scheduled publish counts its publisher's pending rows against their quota.
        await db.schema.createIndex('scheduled_notifications_publisher').on('scheduled_notifications').column('publisher').execute();
      },
    },
    '0009_topic_type_index': {
      async up(db: Kysely<unknown>) {
        // A reader who muted types is counted as the topics' live notifications less those of
        // the muted types (kysely-store.ts, countUnread): this index finds the latter by type
        // and counts them from the index alone, and serves the inbox's type filter. On
        // PostgreSQL `type` is in byte order ("C"), whatever the database's collation, so a
        // muted prefix is one range (`social.` <= type < `social/`).
        if (dialect === 'postgres') {
          await sql`create index notifications_topic_type on notifications (topic, type collate "C", pk, expires_at, critical, recipient)`.execute(db);
        } else {
          await db.schema.createIndex('notifications_topic_type').on('notifications')
            .columns(['topic', 'type', 'pk', 'expires_at', 'critical', 'recipient']).execute();
        }
        // The snoozed list starts from the reader's snoozed receipts, not from every
        // notification of the topics nor every receipt of the reader.
        await db.schema.createIndex('receipts_user_snoozed').on('receipts').columns(['user_id', 'snoozed_until']).execute();
      },
    },
    '0010_scheduled_content_once': {
      async up(db: Kysely<unknown>) {
        // A scheduled publish keeps its content once, and each recipient a small row naming
        // it: one publish of 80 KB to 1000 recipients took 80 MB, for up to a year. New
        // tables, so a node of the previous version (a rolling upgrade) never claims a row it
        // would read without its content; rows it wrote in scheduled_notifications are still
        // delivered. `remaining` counts the publish's rows still waiting: the claim or cancel
        // that takes it to 0 deletes the content (a row lock orders them on PostgreSQL).
        await db.schema.createTable('scheduled_publishes')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('publisher', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('title', 'text')
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('data', 'text')
          .addColumn('critical', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text')
          .addColumn('remaining', 'integer', (c) => c.notNull())
          .execute();
        await db.schema.createTable('scheduled_targets')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('publish_id', 'text', (c) => c.notNull())
          .addColumn('topic', 'text', (c) => c.notNull())
          .addColumn('recipient', 'text')
          .addColumn('publisher', 'text', (c) => c.notNull())
          .addColumn('deliver_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('scheduled_targets_deliver_at').on('scheduled_targets').columns(['deliver_at', 'id']).execute();
        await db.schema.createIndex('scheduled_targets_publisher').on('scheduled_targets').column('publisher').execute();
      },
    },
    '0011_web_push': {
      async up(db: Kysely<unknown>) {
        // Web Push (src/push/): browsers' subscriptions, the durable queue of pushes to decide
        // and to send, and where each user last had a stream open (only users with a
        // subscription). A node of the previous version ignores all three.
        await db.schema.createTable('push_subscriptions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('endpoint', 'text', (c) => c.notNull().unique())
          .addColumn('p256dh', 'text', (c) => c.notNull())
          .addColumn('auth', 'text', (c) => c.notNull())
          .addColumn('expiration_time', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('push_subscriptions_user').on('push_subscriptions').columns(['user_id', 'created_at']).execute();
        await db.schema.createIndex('push_subscriptions_expiration').on('push_subscriptions').column('expiration_time').execute();
        await db.schema.createTable('push_queue')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement())
          .addColumn('notification_id', 'text', (c) => c.notNull())
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('subscription_id', 'text')
          .addColumn('policy', 'text', (c) => c.notNull())
          .addColumn('due_at', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        // Claims take the earliest due rows; a deleted subscription takes its rows along.
        await db.schema.createIndex('push_queue_due').on('push_queue').columns(['due_at', 'id']).execute();
        await db.schema.createIndex('push_queue_subscription').on('push_queue').column('subscription_id').execute();
        await db.schema.createIndex('push_queue_created').on('push_queue').column('created_at').execute();
        await db.schema.createTable('push_presence')
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('node_id', 'text', (c) => c.notNull())
          .addColumn('until', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('push_presence_pk', ['user_id', 'node_id'])
          .execute();
        await db.schema.createIndex('push_presence_until').on('push_presence').column('until').execute();
        // A scheduled publish keeps its push policy until it is delivered (null: `auto`).
        await db.schema.alterTable('scheduled_publishes').addColumn('push', 'text').execute();
      },
    },
    '0012_topic_live_counts': {
      async up(db: Kysely<unknown>) {
        // A stream's unread count starts from its topics' live notifications. Counted from
        // the topic's index, that read every row of a long broadcast topic at each open;
        // kept instead as the head (every row a topic ever took) less `deleted` (rows since
        // deleted), less the expired ones, found in an index of only the rows that have an
        // expiry. Rows written before this migration are counted once, here. A trigger keeps
        // `deleted`, so every delete counts, a node of an earlier version's retention too.
        await db.schema.alterTable('topics').addColumn('deleted', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await sql`update topics set deleted = head - (select count(*) from notifications n where n.topic = topics.name)`.execute(db);
        await sql`create index notifications_topic_expiring on notifications (topic, expires_at) where expires_at is not null`.execute(db);
        if (dialect === 'postgres') {
          // Once per statement, per topic; the topics locked first in name order, the order
          // publishes lock them in, so a purge and a publish never wait on each other in a cycle.
          await sql.raw(`create function herald_count_deleted() returns trigger language plpgsql as $$
            begin
              perform 1 from topics where name in (select topic from gone) order by name for update;
              update topics t set deleted = t.deleted + g.n
                from (select topic, count(*) as n from gone group by topic) g where t.name = g.topic;
              return null;
            end $$`).execute(db);
          await sql`create trigger notifications_deleted_count after delete on notifications
            referencing old table as gone for each statement execute function herald_count_deleted()`.execute(db);
        } else {
          await sql`create trigger notifications_deleted_count after delete on notifications
            begin update topics set deleted = deleted + 1 where name = old.topic; end`.execute(db);
        }
      },
    },
  };
}

function randomEpoch(): string {
  return Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, '0');
}
