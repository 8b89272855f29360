/** Wire types of the Herald API (docs/protocol.md). JSON is snake_case. */

export type NotificationStatus = 'unread' | 'read';

export interface HeraldNotification {
  id: string;
  recipient: string | null;
  topic: string | null;
  type: string;
  title: string | null;
  content: string;
  data: Record<string, unknown> | null;
  status: NotificationStatus;
  seen_at: string | null;
  read_at: string | null;
  archived_at: string | null;
  created_at: string;
  /**
   * When it leaves the inbox for good (ISO time), or null. After it the server stops
   * listing, counting and replaying it and tells open streams with `notification.expired`.
   * Absent from servers older than these features.
   */
  expires_at?: string | null;
  /** Hidden from the inbox and the count until this ISO time, or null when not snoozed. */
  snoozed_until?: string | null;
}

/** Which items a list asks for: `snoozed` lists the currently snoozed ones, the rest leave them out. */
export type InboxStatus = NotificationStatus | 'all' | 'snoozed';

/** A `notification` stream event: the inbox item plus the user's current unread count. */
export interface NotificationEvent extends HeraldNotification {
  unread_count: number;
}

/**
 * A `notification.updated` stream event: read/unread/seen/archive/snooze from any tab, and
 * snoozes waking by time. A change to one item carries the item as it is now in
 * `notification`; read-all/seen-all and waking snoozes carry `notification: null`.
 */
export interface NotificationUpdatedEvent {
  ids: string[];
  status: NotificationStatus | null;
  archived: boolean | null;
  seen: boolean | null;
  /** `true` for read-all / seen-all; `ids` is then empty. */
  all: boolean;
  /**
   * Present on snooze changes only: the new wake time (ISO), or null when the items in `ids`
   * woke (by time, or because the user woke them). Absent on read/seen/archive changes.
   */
  snoozed_until?: string | null;
  unread_count: number;
  notification: HeraldNotification | null;
}

/** A `notification.expired` stream event: these items passed their `expires_at` and are gone. */
export interface NotificationExpiredEvent {
  ids: string[];
  unread_count: number;
  /** More expired than `ids` names (at most 100 are): fetch the list again. */
  more?: boolean;
}

/** The user's notification preferences (`GET`/`PUT /v1/preferences`). */
export interface Preferences {
  /**
   * Types the user does not want: a type (`promo`) or a prefix ending in `.*` (`social.*`
   * matches `social.like`), at most 100. Private notifications of these types are not
   * stored for the user at all; topic ones are hidden from the list, count and stream.
   */
  muted_types: string[];
}

/** A publish (`POST /v1/notifications`, one item of a batch); needs a token with the `publish` scope. */
export interface PublishBody {
  /** User ids, each getting its own notification; or `topic` instead. */
  recipients?: string[];
  /** `broadcast` or `group:<name>`; or `recipients` instead. */
  topic?: string;
  type: string;
  title?: string | null;
  content: string;
  data?: Record<string, unknown> | null;
  /** The same key with the same body answers the first publish again; with another body, `idempotency_conflict`. */
  idempotency_key?: string;
  critical?: boolean;
  /** RFC 3339: delivered then. */
  deliver_at?: string;
  /** RFC 3339: no longer listed, counted or replayed from then on. */
  expires_at?: string;
}

/** What a publish stored: one notification per recipient (or one for a topic), and the recipients left out for muting the type. */
export interface PublishAnswer {
  notifications: Array<HeraldNotification & { deliver_at?: string }>;
  suppressed: string[];
}

/** One item's answer in a batch publish: stored (202), or its own error. */
export type BatchItemResult =
  | ({ status: 202 } & PublishAnswer)
  | { status: number; error: { code: ErrorCode | (string & {}); message: string } };

/** A `preferences.updated` stream event: the preferences changed (in any tab or device). */
export interface PreferencesUpdatedEvent extends Preferences {
  unread_count: number;
}

export interface ReadyEvent {
  connection_id: string;
  unread_count: number;
  cursor: string;
  heartbeat_ms: number;
}

export interface ResetEvent {
  reason: string;
  unread_count: number;
  cursor: string;
}

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  oldState: StreamState;
  newState: StreamState;
}

/** Every event a stream (direct or shared between tabs) emits, by name. */
export interface StreamEventMap {
  notification: NotificationEvent;
  'notification.updated': NotificationUpdatedEvent;
  'notification.expired': NotificationExpiredEvent;
  'preferences.updated': PreferencesUpdatedEvent;
  reset: ResetEvent;
  ready: ReadyEvent;
  state: StateChange;
  error: HeraldError;
}

export type StreamEventName = keyof StreamEventMap;

/** What both the direct stream and the tab-shared stream offer to an application. */
export interface NotificationStream {
  readonly state: StreamState;
  readonly cursor: string | undefined;
  on<K extends StreamEventName>(name: K, listener: (event: StreamEventMap[K]) => void): () => void;
  /** Starts streaming; a no-op unless the stream is new or closed. */
  start(): void;
  /** Stops for good (state `closed`), aborting any open request. */
  close(): void;
}

export type ErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'no_content'
  | 'rate_limited'
  | 'unavailable'
  | 'http_error'
  | 'bad_content_type'
  | 'network_error'
  | 'stream_ended'
  | 'heartbeat_timeout'
  | 'token_provider_failed'
  | 'bad_event'
  | 'client_closed'
  | 'auth_expired';

/** An error the SDK reports; `code` is stable, `status` is the HTTP status when there was one. */
export class HeraldError extends Error {
  readonly code: ErrorCode | string;
  readonly status: number | undefined;

  constructor(code: ErrorCode | string, message: string, status?: number) {
    super(message);
    this.name = 'HeraldError';
    this.code = code;
    this.status = status;
  }
}

/**
 * Why the SDK asks for a token: `connect` before an ordinary (re)connect, `unauthorized`
 * after the server refused the last token (401/403), `expired` after `auth-expired`.
 */
export type TokenRequestReason = 'connect' | 'unauthorized' | 'expired';

/** Asked before each connect; return a fresh JWT (or nothing to connect without one). */
export type TokenProvider = (context: { reason: TokenRequestReason }) =>
  Promise<string | null | undefined> | string | null | undefined;

/** Timers and randomness, injectable so tests run deterministically. */
export interface Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const systemClock: Clock = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};
