// One validation for every way in (HTTP and the queue), so both accept and refuse alike.
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { isValidUserId } from '../auth/principal.js';
import { SHARED_TOPIC_PATTERN } from '../domain/topics.js';
import { MAX_AHEAD_MS, parseRfc3339, toIso } from '../domain/times.js';
import { HeraldError } from '../errors.js';
import type { PublishRequest } from '../store/store.js';

export const NOTIFICATION_TYPE = '^[a-z0-9][a-z0-9._-]{0,63}$';
export const SHARED_TOPIC = SHARED_TOPIC_PATTERN;

export const PublishBody = Type.Object({
  recipients: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
  topic: Type.Optional(Type.String()),
  type: Type.String(),
  title: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
  content: Type.String({ minLength: 1 }),
  data: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  /** Delivered even to recipients and readers who muted its type. Default false. */
  critical: Type.Optional(Type.Boolean()),
  deliver_at: Type.Optional(Type.String({
    maxLength: 64,
    description: 'RFC 3339 date-time (at most 366 days ahead): hold it until then; a time already past means now.',
  })),
  expires_at: Type.Optional(Type.String({
    maxLength: 64,
    description: 'RFC 3339 date-time in the future (after deliver_at): from then on it is no longer listed, counted or replayed.',
  })),
  push: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('always'), Type.Literal('never')], {
    description: 'Web Push to the recipients\' browsers: `auto` (default) after HERALD_PUSH_DELAY_MS only to recipients who did not look meanwhile (no open stream, still unread and unseen); `always` at once; `never`. Topic notifications are not pushed.',
  })),
  /** Queue messages only: the publisher's name, scope of the idempotency key. */
  publisher: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
}, { additionalProperties: false });

export type PublishBody = Static<typeof PublishBody>;

export interface PublishLimits {
  maxRecipients: number;
  maxContentBytes: number;
  maxDataBytes: number;
}

// Compiled once: checking every publish by walking the schema cost a few % of a publish.
const publishBody = TypeCompiler.Compile(PublishBody);
const typePattern = new RegExp(NOTIFICATION_TYPE);
const topicPattern = new RegExp(SHARED_TOPIC);

/**
 * Validates a publish body and turns it into a store request; HeraldError on bad input.
 * `now` (ms since the epoch) is what deliver_at and expires_at are checked against.
 */
export function toPublishRequest(body: unknown, publisher: string, limits: PublishLimits, now: number = Date.now()): PublishRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HeraldError('invalid_request', 'The body must be a JSON object.');
  }
  const first = publishBody.Check(body) ? undefined : publishBody.Errors(body).First();
  if (first) {
    const where = first.path === '' ? 'body' : first.path.slice(1).replace(/\//g, '.');
    throw new HeraldError('invalid_request', `${where}: ${first.message}.`);
  }
  const input = body as PublishBody;
  if (!typePattern.test(input.type)) {
    throw new HeraldError('invalid_request', `type must match ${NOTIFICATION_TYPE} (lowercase, e.g. "comment.mention").`);
  }
  if ((input.recipients === undefined) === (input.topic === undefined)) {
    throw new HeraldError('invalid_request', 'Give exactly one of recipients (user ids) or topic ("broadcast" or "group:<name>").');
  }
  if (input.topic !== undefined && !topicPattern.test(input.topic)) {
    throw new HeraldError('invalid_request', 'topic must be "broadcast" or "group:<name>"; publish to a user through recipients.');
  }
  let recipients: string[] | null = null;
  if (input.recipients) {
    if (input.recipients.length > limits.maxRecipients) {
      throw new HeraldError('invalid_request', `At most ${limits.maxRecipients} recipients per call.`);
    }
    const bad = input.recipients.find((r) => !isValidUserId(r));
    if (bad !== undefined) throw new HeraldError('invalid_request', 'Each recipient must be a user id of 1 to 256 printable characters without spaces.');
    recipients = [...new Set(input.recipients)];
  }
  if (Buffer.byteLength(input.content) > limits.maxContentBytes) {
    throw new HeraldError('payload_too_large', `content is over ${limits.maxContentBytes} bytes.`);
  }
  const data = input.data ?? null;
  if (data !== null && (typeof data !== 'object' || Array.isArray(data))) {
    throw new HeraldError('invalid_request', 'data must be a JSON object.');
  }
  // Checked before anything recursive (JSON.stringify, the request hash) walks it: a deeply
  // nested body would otherwise overflow the stack and answer 500.
  if (data !== null && depthOver(data, MAX_DATA_DEPTH)) {
    throw new HeraldError('invalid_request', `data must not nest deeper than ${MAX_DATA_DEPTH} levels.`);
  }
  if (data !== null && Buffer.byteLength(JSON.stringify(data)) > limits.maxDataBytes) {
    throw new HeraldError('payload_too_large', `data is over ${limits.maxDataBytes} bytes as JSON.`);
  }
  const times = timesOf(input, now);
  const fields = { recipients, topic: input.topic ?? null, type: input.type, title: input.title ?? null, content: input.content, data };
  const critical = input.critical === true;
  const push = input.push ?? 'auto';
  // `critical`, the times and a push policy other than the default join the hash only when
  // given, so keys stored before they existed still match their bodies.
  const hashed = {
    ...fields,
    ...(critical ? { critical } : {}),
    ...(push === 'auto' ? {} : { push }),
    ...(times.deliverAt === null ? {} : { deliver_at: times.deliverAt }),
    ...(times.expiresAt === null ? {} : { expires_at: times.expiresAt }),
  };
  return {
    publisher,
    idempotencyKey: input.idempotency_key ?? null,
    // Compared only against an earlier use of the same idempotency key.
    requestHash: input.idempotency_key === undefined ? '' : createHash('sha256').update(stableStringify(hashed)).digest('base64url'),
    ...fields,
    critical,
    ...times,
    push,
  };
}

/** deliver_at and expires_at, checked against `now` and each other, as ISO UTC text. */
function timesOf(input: PublishBody, now: number): { deliverAt: string | null; expiresAt: string | null } {
  const deliverAt = input.deliver_at === undefined ? null : parseRfc3339(input.deliver_at, 'deliver_at');
  const expiresAt = input.expires_at === undefined ? null : parseRfc3339(input.expires_at, 'expires_at');
  if (deliverAt !== null && deliverAt > now + MAX_AHEAD_MS) {
    throw new HeraldError('invalid_time', 'deliver_at must be at most 366 days ahead.');
  }
  if (expiresAt !== null && expiresAt <= now) throw new HeraldError('invalid_time', 'expires_at must be in the future.');
  // Bounded like deliver_at: an expiry years ahead is no expiry, and piles up work for one day.
  if (expiresAt !== null && expiresAt > (deliverAt ?? now) + MAX_AHEAD_MS) {
    throw new HeraldError('invalid_time', 'expires_at must be at most 366 days after the notification is delivered.');
  }
  if (deliverAt !== null && expiresAt !== null && deliverAt >= expiresAt) {
    throw new HeraldError('deliver_after_expiry', 'deliver_at must be before expires_at, or the notification would never be seen.');
  }
  return { deliverAt: deliverAt === null ? null : toIso(deliverAt), expiresAt: expiresAt === null ? null : toIso(expiresAt) };
}

const MAX_DATA_DEPTH = 32;

/** True when `value` nests objects/arrays deeper than `max`; iterative, so any depth is safe. */
function depthOver(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

/** JSON with object keys sorted, so equal bodies hash equal whatever their key order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
