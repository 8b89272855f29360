// The delivery guarantee, checked one way for every fault test: each accepted notification
// reached every subscriber of its user exactly once, in sequence order, and nothing reached
// a subscriber that was not for its user. Accepted means answered 202 or confirmed by the
// broker; the tests publish with idempotency keys and retry, as applications do.
import type { ResumingSubscriber } from './subscriber.js';
import { waitFor } from './wait.js';

export interface DeliveryFigures {
  lost: number;
  duplicated: number;
  /** Arrived at a subscriber it was not for (wrong recipient, or content nobody published to that user). */
  unexpected: number;
  /** Consecutive deliveries on one subscriber whose sequence numbers are not n, n + 1. */
  outOfOrder: number;
  resets: number;
  reconnects: number;
}

/** Content keys accepted for each user, from `key → user`. */
function keysByUser(accepted: ReadonlyMap<string, string>): Map<string, Set<string>> {
  const byUser = new Map<string, Set<string>>();
  for (const [key, user] of accepted) {
    const keys = byUser.get(user);
    if (keys) keys.add(key);
    else byUser.set(user, new Set([key]));
  }
  return byUser;
}

/** Waits (without failing) until every accepted key is at every subscriber of its user; the tally says what is missing. */
export async function waitForDelivery(subscribers: readonly ResumingSubscriber[], accepted: ReadonlyMap<string, string>, timeoutMs = 60_000): Promise<void> {
  const byUser = keysByUser(accepted);
  await waitFor(() => subscribers.every((s) => {
    const got = new Set(s.received.map((r) => r.content));
    return [...(byUser.get(s.user) ?? [])].every((key) => got.has(key));
  }), 'every accepted notification at every subscriber', timeoutMs, 100).catch(() => {});
}

/**
 * Counts what went wrong against the guarantee. `alsoFor(user)` names content a subscriber
 * may receive beyond the accepted keys (a closing marker). Each lost key is logged with
 * where its subscriber stood, so a rare loss can be traced from the CI log.
 */
export function tallyDelivery(
  subscribers: readonly ResumingSubscriber[], accepted: ReadonlyMap<string, string>, label: string,
  alsoFor: (user: string) => readonly string[] = () => [],
): DeliveryFigures {
  const byUser = keysByUser(accepted);
  const figures: DeliveryFigures = { lost: 0, duplicated: 0, unexpected: 0, outOfOrder: 0, resets: 0, reconnects: 0 };
  for (const s of subscribers) {
    const extra = new Set(alsoFor(s.user));
    const seen = new Map<string, number>();
    let previousSeq: number | null = null;
    for (const r of s.received) {
      seen.set(r.content, (seen.get(r.content) ?? 0) + 1);
      if (r.recipient !== s.user || (accepted.get(r.content) !== s.user && !extra.has(r.content))) figures.unexpected++;
      if (previousSeq !== null && r.seq !== previousSeq + 1) figures.outOfOrder++;
      previousSeq = r.seq;
    }
    for (const key of byUser.get(s.user) ?? []) {
      if (seen.has(key)) continue;
      figures.lost++;
      console.log(`[${label}] lost ${key} for ${s.user} (subscriber received ${s.received.length}, last seq ${previousSeq}, resets ${s.resets}, connects ${s.connects})`);
    }
    for (const count of seen.values()) if (count > 1) figures.duplicated += count - 1;
    figures.resets += s.resets;
    figures.reconnects += s.connects - 1;
  }
  return figures;
}
