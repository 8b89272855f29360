// Response schemas shared by the routes. They serialize the answers (Fastify drops any
// field a schema does not name, so nothing internal leaks by accident) and describe them
// in the OpenAPI document (GET /openapi.json). Errors always have one shape.
import { Type, type TSchema } from '@sinclair/typebox';
import { ERRORS } from '../errors.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Time = (description: string) => Nullable(Type.String({ format: 'date-time', description }));

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'Stable machine-readable code.', enum: Object.keys(ERRORS) }),
    message: Type.String({ description: 'What was wrong and how to fix it, for people.' }),
  }),
});

/** `{status: description}` for the answers a route may give besides its success. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const status of statuses) {
    const codes = Object.entries(ERRORS).filter(([, e]) => e.status === status).map(([code]) => code);
    out[status] = { ...ErrorBody, description: `Error; code ${codes.join(', ') || 'see message'}.` };
  }
  return out;
}

/** A route's answers: its successes, and the errors with the given statuses. */
export function responses(success: Record<number, TSchema>, ...errorStatuses: number[]): Record<number, TSchema> {
  return { ...success, ...errorResponses(...errorStatuses) };
}

/**
 * Errors every authenticated /v1 route may answer: authentication, rate limits, the
 * request's own size and pace (408, 414, 431), and the server's state.
 */
export const AUTH_ERRORS = [401, 403, 408, 414, 429, 431, 500, 503] as const;

/** The query of a route that takes none: any parameter is an error, not silently dropped. */
export const NoQuery = Type.Object({}, { additionalProperties: false });

export const NotificationSchema = Type.Object({
  id: Type.String({ description: 'Unique id of this notification (one per recipient).' }),
  recipient: Nullable(Type.String({ description: 'The user it was sent to; null for a shared topic.' })),
  topic: Nullable(Type.String({ description: '`broadcast` or `group:<name>` for a shared topic; null for a recipient.' })),
  type: Type.String(),
  title: Nullable(Type.String()),
  content: Type.String(),
  data: Nullable(Type.Object({}, { additionalProperties: true, description: 'The publisher\'s JSON object, as sent.' })),
  status: Type.Union([Type.Literal('unread'), Type.Literal('read')]),
  seen_at: Time('When the user first saw it.'),
  read_at: Time('When the user read it.'),
  archived_at: Time('When the user archived it.'),
  created_at: Type.String({ format: 'date-time', description: 'When it entered the inbox (for a scheduled one: when it was delivered).' }),
  expires_at: Time('From then on it is no longer listed, counted or replayed; null: never.'),
  snoozed_until: Time('This user snoozed it until then: hidden from the default list and the unread count; null: not snoozed.'),
}, { $id: 'Notification', description: 'A notification as one user sees it.' });

/** The publish answer's items: a scheduled one also says when it will be delivered. */
export const PublishedNotificationSchema = Type.Object({
  ...NotificationSchema.properties,
  deliver_at: Type.Optional(Type.String({
    format: 'date-time',
    description: 'Scheduled: delivered then (listed, counted and streamed only from then on). In this answer its created_at is when it was accepted; in the inbox, when it was delivered.',
  })),
}, { description: 'A notification as stored by the publish.' });

export const UnreadCount = Type.Integer({ minimum: 0, description: 'Unread, unarchived notifications of the user after the request.' });

export const Responses = {
  inboxPage: Type.Object({
    items: Type.Array(NotificationSchema),
    next_cursor: Nullable(Type.String({ description: 'Pass as `cursor` for the next (older) page; null on the last page.' })),
    unread_count: UnreadCount,
  }),
  unreadCount: Type.Object({ unread_count: UnreadCount }),
  updated: Type.Object({ notification: NotificationSchema, unread_count: UnreadCount }),
  cancelled: Type.Object({
    cancelled: Type.Array(Type.String(), { description: 'Cancelled: they will never be delivered.' }),
    already_delivered: Type.Array(Type.String(), { description: 'Delivered before the cancel.' }),
    expired: Type.Array(Type.String(), { description: 'Their expires_at passed before they could be delivered: dropped, no one received them.' }),
    not_found: Type.Array(Type.String(), { description: 'Unknown ids, or another publisher\'s.' }),
  }),
  markedAll: Type.Object({ updated: Type.Integer({ minimum: 0, description: 'Notifications changed.' }), unread_count: UnreadCount }),
  published: Type.Object({
    notifications: Type.Array(PublishedNotificationSchema, { description: 'One per recipient that gets it, or one for a topic.' }),
    suppressed: Type.Array(Type.String(), {
      description: 'Recipients who muted this type and got nothing (no item, no event, no count change); [] for a topic or a critical publish.',
    }),
  }),
  batchPublished: Type.Object({
    results: Type.Array(Type.Object({
      status: Type.Integer({ description: '202: this item was stored (committed with every other stored item of the batch); 4xx/5xx: it was not, and `error` says why.' }),
      notifications: Type.Optional(Type.Array(PublishedNotificationSchema, { description: 'As `POST /v1/notifications` answers them; with status 202 only.' })),
      suppressed: Type.Optional(Type.Array(Type.String(), { description: 'As `POST /v1/notifications` answers it; with status 202 only.' })),
      error: Type.Optional(ErrorBody.properties.error),
    }, { description: 'One item\'s answer: `notifications` and `suppressed` when stored, `error` when not.' }), {
      description: 'One per item of the request, in its order.',
    }),
  }),
  preferences: Type.Object({
    muted_types: Type.Array(Type.String(), { description: 'Muted types and `<prefix>.*` entries, sorted, without duplicates.' }),
  }),
  ticket: Type.Object({
    ticket: Type.String({ description: 'Pass as `GET /v1/stream?ticket=`; valid once.' }),
    expires_in: Type.Integer({ description: 'Seconds until it expires.' }),
  }),
  session: Type.Object({ user: Type.String(), expires_at: Type.String({ format: 'date-time' }) }),
  devToken: Type.Object({ token: Type.String() }),
  health: Type.Object({ status: Type.Literal('ok'), version: Type.String({ description: 'Herald\'s version (semver).' }) }),
  ready: Type.Object({
    status: Type.Literal('ready'),
    checks: Type.Object({ database: Type.Boolean(), broker: Type.Boolean(), load: Type.Boolean() }),
  }),
  notReady: Type.Object({
    error: ErrorBody.properties.error,
    checks: Type.Object({ database: Type.Boolean(), broker: Type.Boolean(), load: Type.Boolean() }),
  }),
};
