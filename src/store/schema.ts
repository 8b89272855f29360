import type { Generated } from 'kysely';

// Row types as both dialects store them: times are ISO-8601 UTC text, `data` is JSON text,
// sequence numbers and row positions are 64-bit integers (returned as numbers).
export interface Database {
  herald_meta: { key: string; value: string };
  /** `head`: the last sequence number taken; `deleted`: rows retention removed (head - deleted rows are stored). */
  topics: { name: string; head: number; deleted: Generated<number> };
  notifications: {
    pk: Generated<number>;
    id: string;
    topic: string;
    seq: number;
    recipient: string | null;
    type: string;
    title: string | null;
    content: string;
    data: string | null;
    publisher: string;
    created_at: string;
    /** 1 when the publish was critical (shown to readers who muted its type), else 0. */
    critical: Generated<number>;
    /** Null: never expires. */
    expires_at: string | null;
  };
  muted_types: {
    user_id: string;
    /** The entry as the user wrote it: a type or `<prefix>.*`. */
    pattern: string;
    /** For a `<prefix>.*` entry the text a muted type starts with (`social.`), else null. */
    prefix: string | null;
  };
  scheduled_notifications: {
    id: string;
    topic: string;
    recipient: string | null;
    type: string;
    title: string | null;
    content: string;
    data: string | null;
    publisher: string;
    created_at: string;
    deliver_at: string;
    expires_at: string | null;
    /** 1 when the publish was critical, carried into the notification when delivered. */
    critical: Generated<number>;
  };
  /** A scheduled publish's content, stored once for all its recipients (scheduled_targets). */
  scheduled_publishes: {
    id: string;
    publisher: string;
    type: string;
    title: string | null;
    content: string;
    data: string | null;
    critical: Generated<number>;
    created_at: string;
    expires_at: string | null;
    /** Its scheduled_targets rows still waiting; the content goes with the last. */
    remaining: number;
    /** The publish's `push` policy (`auto`, `always`, `never`); null (rows of earlier versions): `auto`. */
    push: string | null;
  };
  /** One recipient (or shared topic) of a scheduled publish: the id its notification will keep. */
  scheduled_targets: {
    id: string;
    publish_id: string;
    topic: string;
    recipient: string | null;
    publisher: string;
    deliver_at: string;
  };
  /** Scheduled notifications dropped undelivered because they expired first: a cancel can say so. */
  expired_scheduled: {
    id: string;
    publisher: string;
    /** When the publish was accepted: retention forgets these with notifications of that age. */
    created_at: string;
  };
  receipts: {
    user_id: string;
    notification_pk: number;
    read_at: string | null;
    seen_at: string | null;
    archived_at: string | null;
    snoozed_until: string | null;
  };
  redeemed_tickets: {
    jti: string;
    /** ms since epoch; rows past it are deleted. */
    expires_at: number;
  };
  idempotency_keys: {
    publisher: string;
    key: string;
    request_hash: string;
    response: string;
    created_at: string;
  };
  /** A browser's PushSubscription, owned by the user who last posted it. */
  push_subscriptions: {
    id: string;
    user_id: string;
    /** Unique: one browser's subscription belongs to one user at a time. */
    endpoint: string;
    /** The browser's P-256 key (base64url) and auth secret the payload is encrypted for. */
    p256dh: string;
    auth: string;
    /** When the browser said the subscription ends (ISO); retention deletes it then. Null: no end given. */
    expiration_time: string | null;
    created_at: string;
  };
  /**
   * The durable push queue. A row without a subscription is a decision still to make (is the
   * user away, is it still unread?); a row with one is a push to send to that subscription.
   * `due_at` is when a node may take it next: claiming moves it a lease ahead, so a node
   * that dies mid-way leaves the row to another once the lease runs out.
   */
  push_queue: {
    id: Generated<number>;
    notification_id: string;
    user_id: string;
    subscription_id: string | null;
    /** `auto` or `always` (`never` is never queued). */
    policy: string;
    due_at: string;
    /** Sends tried and answered 429/5xx or not at all. */
    attempts: Generated<number>;
    /** When the row was queued (a decision) or the push first tried (a send: its TTL counts from then). */
    created_at: string;
  };
  /**
   * Until when a node last knew the user had a stream open there (the time the last one
   * closed, or a time ahead while one is open, renewed while it stays open). Kept only for
   * users with a push subscription: `auto` pushes ask whether any node saw them meanwhile.
   */
  push_presence: {
    user_id: string;
    node_id: string;
    until: string;
  };
}
