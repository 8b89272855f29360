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
}

/** A `notification` stream event: the inbox item plus the user's current unread count. */
export interface NotificationEvent extends HeraldNotification {
  unread_count: number;
}

/** A `notification.updated` stream event (read/unread/seen/archive from any tab). */
export interface NotificationUpdatedEvent {
  ids: string[];
  status: NotificationStatus | null;
  archived: boolean | null;
  seen: boolean | null;
  /** `true` for read-all / seen-all; `ids` is then empty. */
  all: boolean;
  unread_count: number;
  notification: HeraldNotification | null;
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
