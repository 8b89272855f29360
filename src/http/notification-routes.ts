import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { audienceOf } from '../auth/principal.js';
import { HeraldError } from '../errors.js';
import { NOTIFICATION_TYPE } from '../ingest/publish-request.js';
import type { InboxService } from '../inbox/inbox-service.js';
import type { Clock } from '../domain/clock.js';
import { MAX_CANCEL_IDS, type NotificationStore } from '../store/store.js';
import { MAX_AHEAD_MS, parseRfc3339, toIso } from '../domain/times.js';
import { principalOf } from './authenticate.js';
import { AUTH_ERRORS, NoQuery, responses, Responses } from './schemas.js';

const InboxQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('unread'), Type.Literal('read'), Type.Literal('all'), Type.Literal('snoozed')], {
    description: '`snoozed` lists only what is snoozed until later; every other status leaves those out.',
  })),
  type: Type.Optional(Type.String({ pattern: NOTIFICATION_TYPE })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 64 })),
  archived: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
/** A bulk cancel names its notifications, or the publish that made them: one of the two. */
const CancelBody = Type.Union([
  Type.Object({ ids: Type.Array(IdParams.properties.id, { minItems: 1, maxItems: MAX_CANCEL_IDS, uniqueItems: true }) }, { additionalProperties: false }),
  Type.Object({ idempotency_key: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false }),
]);

const PatchBody = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('read'), Type.Literal('unread')])),
  archived: Type.Optional(Type.Boolean()),
  seen: Type.Optional(Type.Literal(true)),
  // One schema with both types, not a union: with type coercion on, a union's string
  // branch would turn null into "".
  snoozed_until: Type.Optional(Type.Unsafe<string | null>({
    type: ['string', 'null'], maxLength: 64,
    description: 'RFC 3339 date-time (at most 366 days ahead): hide it from the default list and the count until then; null wakes it now.',
  })),
}, { additionalProperties: false, minProperties: 1 });

const MarkAllBody = Type.Union([
  Type.Object({ up_to: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }),
  Type.Null(),
]);

/** Every inbox route: authenticated in onRequest (app.ts) before its body is read. */
const SUBSCRIBE = { auth: { scope: 'subscribe' } } as const;

/** The inbox cursor is the row position, wrapped so clients treat it as opaque. */
function encodePageCursor(position: number): string {
  return Buffer.from(`p${position}`).toString('base64url');
}

function decodePageCursor(cursor: string): number {
  const match = /^p(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!match) throw new HeraldError('invalid_cursor', 'cursor is not one this API returned; start again without it.');
  return Number(match[1]);
}

export interface NotificationRouteDeps {
  store: NotificationStore;
  inbox: InboxService;
  /** Snooze times are checked against the hub's clock. */
  hub: { clock: Clock };
}

/** A PATCH's snoozed_until as ISO UTC text (null: wake now); undefined when absent. */
function snoozeOf(value: string | null | undefined, now: number): string | null | undefined {
  if (value === undefined || value === null) return value;
  const at = parseRfc3339(value, 'snoozed_until');
  if (at > now + MAX_AHEAD_MS) throw new HeraldError('invalid_time', 'snoozed_until must be at most 366 days ahead.');
  return toIso(at);
}

export function notificationRoutes(app: FastifyInstance, deps: NotificationRouteDeps): void {
  // Request bodies, queries and params are typed from their schemas.
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();
  const { store, inbox } = deps;

  routes.get('/v1/notifications', {
    schema: {
      querystring: InboxQuery, summary: 'The user\'s inbox, newest first, one page at a time.', tags: ['inbox'],
      response: responses({ 200: Responses.inboxPage }, 400, ...AUTH_ERRORS),
    },
    config: SUBSCRIBE,
  }, async (request) => {
    const principal = principalOf(request);
    const query = request.query;
    const audience = audienceOf(principal);
    const page = await store.listInbox(audience, {
      status: query.status ?? 'all',
      type: query.type ?? null,
      archived: query.archived ?? false,
      limit: query.limit ?? 50,
      before: query.cursor === undefined ? null : decodePageCursor(query.cursor),
    });
    const { unread } = await store.unreadSnapshot(audience);
    return {
      items: page.items,
      next_cursor: page.nextBefore === null ? null : encodePageCursor(page.nextBefore),
      unread_count: unread,
    };
  });

  routes.get('/v1/notifications/unread-count', {
    schema: { querystring: NoQuery, summary: 'The number of unread notifications.', tags: ['inbox'], response: responses({ 200: Responses.unreadCount }, 400, ...AUTH_ERRORS) },
    config: SUBSCRIBE,
  }, async (request) => {
    const principal = principalOf(request);
    const { unread } = await store.unreadSnapshot(audienceOf(principal));
    return { unread_count: unread };
  });

  routes.patch('/v1/notifications/:id', {
    schema: {
      params: IdParams, body: PatchBody, querystring: NoQuery, summary: 'Mark one notification read, unread, seen, (un)archived or snoozed.', tags: ['inbox'],
      response: responses({ 200: Responses.updated }, 400, 404, 413, 415, ...AUTH_ERRORS),
    },
    config: SUBSCRIBE,
  }, async (request) => {
    const principal = principalOf(request);
    const { id } = request.params;
    const change = request.body;
    const snoozedUntil = snoozeOf(change.snoozed_until, deps.hub.clock.now());
    const updated = await inbox.update(principal, id, { status: change.status, archived: change.archived, seen: change.seen, snoozedUntil });
    // Another user's id answers exactly like an unknown one: nothing leaks.
    if (!updated) throw new HeraldError('not_found', `No notification ${JSON.stringify(id)} in your inbox.`);
    return { notification: updated.notification, unread_count: updated.unread };
  });

  routes.delete('/v1/notifications/:id', {
    schema: {
      params: IdParams, querystring: NoQuery, tags: ['publish'],
      summary: 'Cancel a scheduled notification this publisher sent, before it is delivered.',
      description: 'Answers 204 when cancelled; 409 `already_delivered` once it was delivered; 410 `expired_before_delivery` when its '
        + '`expires_at` passed before it could be delivered (Herald was down past both times): it was dropped, no one received it '
        + 'and no one will; 404 for an unknown id or another publisher\'s.',
      response: responses({ 204: Type.Null({ description: 'Cancelled: it will never be delivered.' }) }, 404, 409, 410, ...AUTH_ERRORS),
    },
    config: { auth: { scope: 'publish' } },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const { id } = request.params;
    const outcome = await store.cancelScheduled(principal.sub, id);
    if (outcome === 'already_delivered') throw new HeraldError('already_delivered');
    if (outcome === 'expired') throw new HeraldError('expired_before_delivery');
    // Another publisher's id answers exactly like an unknown one.
    if (outcome === 'not_found') throw new HeraldError('not_found', `No scheduled notification ${JSON.stringify(id)} of yours.`);
    return reply.status(204).send();
  });

  routes.post('/v1/notifications/cancel', {
    schema: {
      body: CancelBody, querystring: NoQuery, tags: ['publish'],
      summary: 'Cancel many scheduled notifications of this publisher at once: by id, or every one a publish (named by its idempotency key) made.',
      description: 'Answers each id\'s outcome, as `DELETE /v1/notifications/{id}` would: `cancelled`, `already_delivered`, '
        + '`expired` (dropped undelivered) or `not_found` (unknown, or another publisher\'s). 404 for an unknown idempotency key.',
      response: responses({ 200: Responses.cancelled }, 400, 404, 413, 415, ...AUTH_ERRORS),
    },
    config: { auth: { scope: 'publish' } },
  }, async (request) => {
    const principal = principalOf(request);
    const body = request.body;
    let ids: string[];
    if ('ids' in body) {
      ids = body.ids;
    } else {
      const published = await store.idsPublishedWithKey(principal.sub, body.idempotency_key);
      if (published === null) throw new HeraldError('not_found', `No publish of yours with idempotency key ${JSON.stringify(body.idempotency_key)}.`);
      ids = published;
    }
    const outcomes = await store.cancelScheduledMany(principal.sub, ids);
    const answer = { cancelled: [] as string[], already_delivered: [] as string[], expired: [] as string[], not_found: [] as string[] };
    for (const [id, outcome] of outcomes) answer[outcome].push(id);
    return answer;
  });

  for (const what of ['read', 'seen'] as const) {
    routes.post(`/v1/notifications/${what}-all`, {
      schema: {
        body: MarkAllBody, querystring: NoQuery, summary: `Mark every notification ${what}, or those up to one id.`, tags: ['inbox'],
        response: responses({ 200: Responses.markedAll }, 400, 404, 413, 415, ...AUTH_ERRORS),
      },
      config: SUBSCRIBE,
    }, async (request) => {
      const principal = principalOf(request);
      const body = request.body;
      const { updated, unread } = await inbox.markAll(principal, what, body?.up_to ?? null);
      return { updated, unread_count: unread };
    });
  }
}
