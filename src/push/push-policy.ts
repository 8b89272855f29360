// The decisions of the push sender, as pure functions: whether a queued notification is
// pushed (the `auto` and `always` policies), what a push service's answer means, and when
// to try again.
import type { PushedNotification } from '../store/push-store.js';

/** Why a queued notification was not pushed (herald_push_skipped_total's `reason`). */
export const SKIP_REASONS = ['gone', 'expired', 'muted', 'read', 'seen', 'archived', 'snoozed', 'present', 'no_subscription'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface DecisionInput {
  policy: string;
  /** When the push was queued (ISO): the delay's start. */
  queuedAt: string;
  /** The recipient's notification with their state; undefined when it is gone (retention) or not theirs. */
  pushed: PushedNotification | undefined;
  /** The recipient muted its type now. */
  muted: boolean;
  /** The latest time any node recorded the recipient with a stream open (ISO), if any. */
  presentUntil: string | undefined;
  /** This node has (or had since `queuedAt`) a stream of the recipient open, not yet recorded perhaps. */
  seenHere: boolean;
  subscriptions: number;
  now: string;
}

/** Null: push it. Otherwise why not. `always` skips only what is gone, expired or muted. */
export function skipReason(input: DecisionInput): SkipReason | null {
  const { pushed, now } = input;
  if (!pushed) return 'gone';
  const n = pushed.notification;
  if (n.expires_at !== null && n.expires_at <= now) return 'expired';
  // A muted type is never pushed, critical aside (as for storing it).
  if (input.muted && !pushed.critical) return 'muted';
  if (input.policy !== 'always') {
    const looked = stateSkip(pushed, now);
    if (looked) return looked;
    if (input.seenHere || (input.presentUntil !== undefined && input.presentUntil >= input.queuedAt)) return 'present';
  }
  if (input.subscriptions === 0) return 'no_subscription';
  return null;
}

/** Why an `auto` push is no longer wanted by the recipient's own doing: read, seen, archived or snoozed. */
export function stateSkip(pushed: PushedNotification, now: string): SkipReason | null {
  const n = pushed.notification;
  if (n.read_at !== null) return 'read';
  if (n.seen_at !== null) return 'seen';
  if (n.archived_at !== null) return 'archived';
  if (n.snoozed_until !== null && n.snoozed_until > now) return 'snoozed';
  return null;
}

/** What became of one send (herald_push_sent_total's `result`). */
export const SEND_RESULTS = ['sent', 'gone', 'retried', 'dropped', 'expired', 'refused'] as const;
export type SendResult = (typeof SEND_RESULTS)[number];

/**
 * A push service's answer (RFC 8030 §5, §8.4): 201/202 it took the push; 404/410 the
 * subscription is gone; 429 and 5xx, try again later; other statuses will not get better.
 * `null` (no answer: connection refused, reset, timed out) is tried again too.
 */
export function answerMeans(status: number | null): 'sent' | 'gone' | 'retry' | 'dropped' {
  if (status === null || status === 429 || (status >= 500 && status <= 599)) return 'retry';
  if (status === 201 || status === 202) return 'sent';
  if (status === 404 || status === 410) return 'gone';
  return 'dropped';
}

/** Longest wait between two tries, ms. */
export const MAX_BACKOFF_MS = 10 * 60_000;

/**
 * When to try again after `attempts` failed tries: the push service's Retry-After when it
 * gave one, else 1 s doubling per try (up to 10 min), jittered between half and all of it
 * so a push service coming back is not hit by every retry at once.
 */
export function retryDelayMs(attempts: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  if (retryAfterMs !== null) return Math.min(retryAfterMs, 24 * 3600_000);
  const full = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(attempts, 20));
  return Math.round(full / 2 + random() * (full / 2));
}

/**
 * The TTL to send (seconds) for a push first tried at `firstTriedAt` (ms): what is left of
 * HERALD_PUSH_TTL_S, never past the notification's expiry; null when nothing is left (it
 * is dropped). A push first tried now gets the whole TTL (0 included: "now or never").
 */
export function remainingTtlS(firstTriedAt: number, ttlS: number, expiresAt: string | null, now: number): number | null {
  const deadline = Math.min(firstTriedAt + ttlS * 1000, expiresAt === null ? Infinity : Date.parse(expiresAt));
  if (now > deadline || (expiresAt !== null && Date.parse(expiresAt) <= now)) return null;
  return Math.floor((deadline - now) / 1000);
}
