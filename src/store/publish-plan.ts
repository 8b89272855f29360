// The decisions of a publish transaction, as pure functions: which idempotency keys a batch
// claims and what each request then does, who is left out for muting the type, the
// sequence numbers each topic hands out, and the rows and answers that follow. A database
// only runs the statements between them (publish-statements.ts); the immediate publish
// (sqlite-writer.ts, pg-writer.ts) and scheduled delivery (scheduled.ts) decide alike.
import { patternsMuting } from '../domain/preferences.js';
import { HeraldError } from '../errors.js';
import type { Outcome } from './group-commit.js';
import { newNotificationId } from './ids.js';
import { newNotification, targetsOf, toNotification, type NotificationRow, type StoredNotification } from './rows.js';
import type { PublishRequest, PublishResult, PushPolicy, TopicEvent } from './store.js';

export type KeyRef = { publisher: string; key: string };
export type KeyClaim = KeyRef & { requestHash: string };
/** A key as a committed publish left it. */
export type StoredKey = KeyClaim & { response: string };
export type KeyResponse = KeyRef & { response: string };
/** Which of `users` muted a type; `patterns` are the entries that would (patternsMuting). */
export type MutingQuestion = { users: readonly string[]; patterns: readonly string[] };

/** What a request of a batch does, by its idempotency key. */
export type KeyPlan =
  | { kind: 'write' }
  | { kind: 'conflict' }
  /** The key was committed before: answer what it stored. */
  | { kind: 'stored'; response: string }
  /** The key's first use is in this batch: answer what that request wrote. */
  | { kind: 'same'; as: number };

function keyOf(publisher: string, key: string): string {
  return JSON.stringify([publisher, key]);
}

/** The keys a batch claims: each once, for the first request that has it. */
export function keyClaims(requests: readonly PublishRequest[]): KeyClaim[] {
  const seen = new Set<string>();
  const claims: KeyClaim[] = [];
  for (const request of requests) {
    if (request.idempotencyKey === null) continue;
    const k = keyOf(request.publisher, request.idempotencyKey);
    if (seen.has(k)) continue;
    seen.add(k);
    claims.push({ publisher: request.publisher, key: request.idempotencyKey, requestHash: request.requestHash });
  }
  return claims;
}

/** The claims this transaction did not take: another publish committed them first. */
export function takenKeys(claims: readonly KeyClaim[], claimed: readonly KeyRef[]): KeyRef[] {
  const ours = new Set(claimed.map((c) => keyOf(c.publisher, c.key)));
  return claims.filter((c) => !ours.has(keyOf(c.publisher, c.key))).map(({ publisher, key }) => ({ publisher, key }));
}

/**
 * Which requests write, and which replay or conflict with an idempotency key: the first
 * request of the batch with a key claimed it (`claimed`, when this transaction took it);
 * a key taken before answers what it stored (`stored`), to the same request only.
 */
export function keyPlans(requests: readonly PublishRequest[], claimed: readonly KeyRef[], stored: readonly StoredKey[]): KeyPlan[] {
  const ours = new Set(claimed.map((c) => keyOf(c.publisher, c.key)));
  const found = new Map(stored.map((s) => [keyOf(s.publisher, s.key), s]));
  const firstWith = new Map<string, number>();
  return requests.map((request, i): KeyPlan => {
    if (request.idempotencyKey === null) return { kind: 'write' };
    const k = keyOf(request.publisher, request.idempotencyKey);
    const first = firstWith.get(k);
    if (first === undefined) firstWith.set(k, i);
    if (ours.has(k)) {
      if (first === undefined) return { kind: 'write' };
      return (requests[first] as PublishRequest).requestHash === request.requestHash ? { kind: 'same', as: first } : { kind: 'conflict' };
    }
    const existing = found.get(k);
    if (!existing) throw new Error(`idempotency key ${JSON.stringify(request.idempotencyKey)} was neither claimed nor found`);
    return existing.requestHash === request.requestHash ? { kind: 'stored', response: existing.response } : { kind: 'conflict' };
  });
}

/** Whom to ask about mutes: a publish to recipients, unless critical (a critical one ignores mutes). */
export function mutingQuestion(request: PublishRequest): MutingQuestion | null {
  if (request.recipients === null || request.critical) return null;
  return { users: request.recipients, patterns: patternsMuting(request.type) };
}

/** What one publish writes, before its sequence numbers are known. */
export interface PlannedPublish {
  /** One per row, in targetsOf order, with the id the notification keeps. */
  targets: Array<{ id: string; topic: string; recipient: string | null }>;
  /** The recipients left out because they muted the type. */
  suppressed: string[];
  /** Every row's columns but id, topic, seq and recipient. */
  content: Omit<StoredNotification, 'id' | 'topic' | 'seq' | 'recipient'>;
  /** `data` parsed from the text stored, once for all rows: exactly what a reader gets back. */
  data: Record<string, unknown> | null;
  request: PublishRequest;
}

/** A publish without the recipients in `muted`, with its content as stored at `now`. */
export function planPublish(request: PublishRequest, muted: ReadonlySet<string>, now: string, newId: () => string = newNotificationId): PlannedPublish {
  const recipients = request.recipients;
  const kept = recipients === null || muted.size === 0 ? request : { ...request, recipients: recipients.filter((r) => !muted.has(r)) };
  const suppressed = recipients === null || muted.size === 0 ? [] : recipients.filter((r) => muted.has(r));
  const data = request.data === null ? null : JSON.stringify(request.data);
  return {
    targets: targetsOf(kept).map(({ topic, recipient }) => ({ id: newId(), topic, recipient })),
    suppressed,
    content: {
      type: request.type, title: request.title, content: request.content, data, publisher: request.publisher,
      created_at: now, critical: request.critical ? 1 : 0, expires_at: request.expiresAt ?? null,
    },
    data: data === null ? null : (JSON.parse(data) as Record<string, unknown>),
    request,
  };
}

/**
 * Rows per topic, in topic-name order: each head moves once, by its count. (PostgreSQL
 * locks the topics in its own collation's order, which its statement sorts by again.)
 */
export function countByTopic(topics: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const topic of topics) counts.set(topic, (counts.get(topic) ?? 0) + 1);
  return new Map([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The sequence number of each row, given the heads after moving each topic by its count:
 * a topic's rows take the numbers below its new head, in the order given.
 */
export function takeSequences(topics: readonly string[], heads: ReadonlyMap<string, number>): number[] {
  const counts = countByTopic(topics);
  const next = new Map<string, number>();
  return topics.map((topic) => {
    const seq = next.get(topic) ?? (heads.get(topic) as number) - (counts.get(topic) as number) + 1;
    next.set(topic, seq + 1);
    return seq;
  });
}

/** The topics of a batch's rows, in the order they are written. */
export function topicsOf(publishes: ReadonlyArray<PlannedPublish | null>): string[] {
  return publishes.flatMap((p) => (p === null ? [] : p.targets.map((t) => t.topic)));
}

/** The rows a batch stores and each publish's answer, given the rows' sequence numbers (takeSequences over topicsOf). */
export function writtenRows(publishes: ReadonlyArray<PlannedPublish | null>, seqs: readonly number[]): { rows: StoredNotification[]; results: Array<PublishResult | null> } {
  const rows: StoredNotification[] = [];
  const results = publishes.map((publish): PublishResult | null => {
    if (publish === null) return null;
    const events = publish.targets.map(({ id, topic, recipient }): TopicEvent => {
      const seq = seqs[rows.length] as number;
      rows.push({ id, topic, seq, recipient, ...publish.content });
      return { topic, seq, notification: newNotification(id, recipient, topic, publish.request, publish.data, publish.content.created_at) };
    });
    return { events, replayed: false, suppressed: publish.suppressed };
  });
  return { rows, results };
}

/**
 * What a key stores: only the ids (a replay reads the rows back), ~40 bytes per
 * notification; a scheduled publish keeps whom it suppressed beside them (a copy
 * cancelled, expired or muted by the time of a replay is not one the publish suppressed).
 */
export function keyResponse(ids: readonly string[], suppressed?: readonly string[]): string {
  return JSON.stringify(suppressed === undefined ? { ids } : { ids, suppressed });
}

/** The responses the keyed requests that wrote store. */
export function keyResponses(requests: readonly PublishRequest[], results: ReadonlyArray<PublishResult | null>): KeyResponse[] {
  return requests.flatMap((request, i) => {
    const result = results[i];
    if (request.idempotencyKey === null || !result) return [];
    return [{ publisher: request.publisher, key: request.idempotencyKey, response: keyResponse(result.events.map((e) => e.notification.id)) }];
  });
}

/** A stored response: ids, or (keys written before ids were stored compactly) the whole answer. */
export function parseKeyResponse(response: string): { ids: string[]; events: TopicEvent[] | null; suppressed?: string[] } {
  const stored = JSON.parse(response) as { ids: string[]; suppressed?: string[] } | TopicEvent[];
  if (Array.isArray(stored)) return { ids: [], events: stored };
  return { ids: stored.ids, events: null, ...(stored.suppressed === undefined ? {} : { suppressed: stored.suppressed }) };
}

/** The ids the batch's replays of committed keys read back. */
export function replayIds(plans: readonly KeyPlan[]): string[] {
  return [...new Set(plans.flatMap((plan) => (plan.kind === 'stored' ? parseKeyResponse(plan.response).ids : [])))];
}

export function eventOfRow(row: StoredNotification): TopicEvent {
  return { topic: row.topic, seq: Number(row.seq), notification: toNotification(row, null) };
}

/** Each request's outcome: what it wrote, the replay of its key, or the key's conflict. */
export function outcomesOf(plans: readonly KeyPlan[], results: ReadonlyArray<PublishResult | null>, replayRows: readonly NotificationRow[]): Outcome<PublishResult>[] {
  const byId = new Map(replayRows.map((row) => [row.id, eventOfRow(row)]));
  return plans.map((plan, i): Outcome<PublishResult> => {
    switch (plan.kind) {
      case 'write': return { ok: true, value: results[i] as PublishResult };
      case 'conflict': return { ok: false, error: new HeraldError('idempotency_conflict') };
      case 'same': return { ok: true, value: { events: (results[plan.as] as PublishResult).events, replayed: true } };
      case 'stored': {
        const { ids, events } = parseKeyResponse(plan.response);
        return { ok: true, value: { events: events ?? ids.flatMap((id) => byId.get(id) ?? []), replayed: true } };
      }
    }
  });
}

/** How new notifications feed the push queue; null when push is off (nothing is queued). */
export interface PushQueueing {
  /** How long an `auto` push waits for the user to look (HERALD_PUSH_DELAY_MS). */
  delayMs: number;
}

/** A push decision the publish queues; the statement keeps only users who have a subscription. */
export interface QueuedPush {
  notificationId: string;
  user: string;
  policy: 'auto' | 'always';
  /** When it is decided: `always` at once, `auto` after the delay (ISO). */
  dueAt: string;
  createdAt: string;
}

/** The push decisions for notifications stored at `now`: recipients' only (topics are not pushed), none for `never`. */
export function queuedPushes(
  targets: Iterable<{ id: string; recipient: string | null; policy: PushPolicy | null | undefined }>, now: string, queueing: PushQueueing | null,
): QueuedPush[] {
  if (queueing === null) return [];
  const later = new Date(Date.parse(now) + queueing.delayMs).toISOString();
  const pushes: QueuedPush[] = [];
  for (const { id, recipient, policy } of targets) {
    const effective = policy ?? 'auto';
    if (recipient === null || effective === 'never') continue;
    pushes.push({ notificationId: id, user: recipient, policy: effective, dueAt: effective === 'auto' ? later : now, createdAt: now });
  }
  return pushes;
}

/** The push decisions of a batch's new notifications. */
export function pushesOfPublishes(publishes: ReadonlyArray<PlannedPublish | null>, now: string, queueing: PushQueueing | null): QueuedPush[] {
  if (queueing === null) return [];
  return queuedPushes(publishes.flatMap((p) => (p === null ? [] : p.targets.map((t) => ({ ...t, policy: p.request.push })))), now, queueing);
}
