// One table of error codes: HTTP status and the default message. Codes are stable API.
export const ERRORS = {
  invalid_request: { status: 400, message: 'The request is invalid.' },
  invalid_cursor: { status: 400, message: 'The cursor is malformed.' },
  too_many_mutes: { status: 400, message: 'At most 100 muted types.' },
  scheduled_quota_exceeded: { status: 409, message: 'This publisher has too many scheduled notifications waiting (HERALD_MAX_SCHEDULED_PER_PUBLISHER): cancel some, or wait until they are delivered.' },
  invalid_mute_pattern: { status: 400, message: 'A muted type must be a notification type or a prefix ending in ".*".' },
  invalid_time: { status: 400, message: 'A time is malformed or out of range.' },
  deliver_after_expiry: { status: 400, message: 'deliver_at must be before expires_at.' },
  push_endpoint_not_allowed: { status: 400, message: 'Herald sends pushes only to https endpoints of the known push services (FCM, Mozilla, Apple, Windows) and to origins listed in HERALD_PUSH_ALLOWED_ORIGINS.' },
  duplicate_cookie: { status: 400, message: 'More than one herald_token cookie was sent, so which account is meant is unclear; clear this site\'s cookies and sign in again.' },
  invalid_token: { status: 401, message: 'The access token is missing, malformed, expired or not signed by a trusted key.' },
  insufficient_scope: { status: 403, message: 'The token lacks the scope this endpoint needs.' },
  ip_not_allowed: { status: 403, message: 'Requests from this address are not allowed.' },
  origin_not_allowed: { status: 403, message: 'A request that changes state with the herald_token cookie must come from Herald\'s own page (Sec-Fetch-Site: same-origin, or an Origin equal to HERALD_PUBLIC_URL or to the Host); other origins send a Bearer token.' },
  host_not_allowed: { status: 403, message: 'Development tokens are minted only for requests made on this machine straight to Herald (no proxy) and addressed to localhost, 127.0.0.1 or [::1].' },
  metrics_token_required: { status: 403, message: 'Set HERALD_METRICS_TOKEN to read /metrics other than directly from loopback on a loopback-only server.' },
  topic_not_allowed: { status: 403, message: 'The token may not publish to or read this topic.' },
  not_found: { status: 404, message: 'Not found.' },
  request_timeout: { status: 408, message: 'The request took too long to arrive.' },
  idempotency_conflict: { status: 409, message: 'This idempotency_key was already used with a different body.' },
  already_delivered: { status: 409, message: 'The notification was already delivered; it can no longer be cancelled.' },
  expired_before_delivery: { status: 410, message: 'The scheduled notification expired before it was delivered: no one received it and no one will, so there is nothing to cancel.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  body_not_allowed: { status: 413, message: 'This endpoint takes no request body: send the request without one (no Content-Length above 0, no Transfer-Encoding).' },
  unsupported_media_type: { status: 415, message: 'Send the body as application/json.' },
  uri_too_long: { status: 414, message: 'The URL is too long.' },
  header_too_large: { status: 431, message: 'The request headers are too large.' },
  too_many_connections: { status: 429, message: 'Too many open streams.' },
  rate_limited: { status: 429, message: 'Too many requests.' },
  internal: { status: 500, message: 'Internal error.' },
  unavailable: { status: 503, message: 'The service is temporarily unavailable.' },
  overloaded: { status: 503, message: 'The server is at capacity.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class HeraldError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds, sent as Retry-After on 429/503. */
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message?: string, retryAfterS?: number) {
    super(message ?? ERRORS[code].message);
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryAfterS = retryAfterS;
  }
}

export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

// Error codes of a database (or the network to it) that is away: worth retrying, and
// answered 503 so clients retry, never blamed on the request. PostgreSQL SQLSTATEs: 57P01-03
// (shutdown, crash, cannot connect now), 57014 (statement timeout), 53300 (too many
// connections) and class 08 (connection exceptions).
const UNREACHABLE_CODES = new Set(['HERALD_DB_CONNECTION', 'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '57014', '53300', '08000', '08001', '08003', '08004', '08006']);

// SQLite's primary result codes for "another connection holds the lock": SQLITE_BUSY (5) and
// SQLITE_LOCKED (6). better-sqlite3 names them (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, ...);
// node:sqlite says ERR_SQLITE_ERROR and gives the (extended) number in `errcode`.
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_FULL = 13;
/** PostgreSQL's SQLSTATE for "could not extend file: No space left on device". */
const PG_DISK_FULL = '53100';

/** The database's disk is full: nothing new can be stored until space is freed (then it resumes by itself). */
export function isDiskFull(err: unknown): boolean {
  const { code, errcode } = (err ?? {}) as { code?: unknown; errcode?: unknown };
  if (code === 'SQLITE_FULL' || code === PG_DISK_FULL) return true;
  return code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' && (errcode & 0xff) === SQLITE_FULL;
}

function isSqliteLock(err: { code?: unknown; errcode?: unknown }): boolean {
  if (typeof err.code === 'string' && /^SQLITE_(BUSY|LOCKED)(_|$)/.test(err.code)) return true;
  if (err.code !== 'ERR_SQLITE_ERROR' || typeof err.errcode !== 'number') return false;
  const primary = err.errcode & 0xff;
  return primary === SQLITE_BUSY || primary === SQLITE_LOCKED;
}

/**
 * True when an error means the database (or broker) could not be reached or is busy, not
 * that the request was wrong. Decided by the driver's code, never by a message's wording:
 * the pg client's codeless errors are tagged HERALD_DB_CONNECTION where they arise
 * (src/store/open-store.ts).
 */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof HeraldError) return err.code === 'unavailable';
  const coded = (err ?? {}) as { code?: unknown; errcode?: unknown };
  if (isSqliteLock(coded) || isDiskFull(coded)) return true;
  return typeof coded.code === 'string' && UNREACHABLE_CODES.has(coded.code);
}
