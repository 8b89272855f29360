// Web Push routes (README.md, "Web Push"): the VAPID public key, the user's browser subscriptions, and
// the service worker's "mark read" with a push's read token. With push off (no VAPID keys)
// each answers 404.
import { createECDH } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { InboxService } from '../inbox/inbox-service.js';
import { HeraldError } from '../errors.js';
import { MAX_ENDPOINT_LENGTH, endpointRefusal } from '../push/push-origins.js';
import { MAX_READ_TOKEN_CHARS, type ReadTokens } from '../push/read-token.js';
import type { Clock } from '../domain/clock.js';
import type { PushSubscriptionRow } from '../store/push-store.js';
import type { NotificationStore } from '../store/store.js';
import { principalOf } from './authenticate.js';
import { AUTH_ERRORS, NoQuery, responses } from './schemas.js';

/** Subscriptions a user keeps; a new one beyond replaces their oldest (browsers renew and leave old ones behind). */
export const MAX_SUBSCRIPTIONS_PER_USER = 20;

export interface PushSettings {
  publicKey: string;
  readTokens: ReadTokens;
  allowedOrigins: readonly string[];
}

export interface PushRouteDeps {
  store: NotificationStore;
  inbox: InboxService;
  /** Null: push is off. */
  push: PushSettings | null;
  hub: { clock: Clock };
  config: { userRatePerMinute: number };
}

const Base64Url = (description: string) => Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_-]+={0,2}$', description });

const SubscriptionBody = Type.Object({
  endpoint: Type.String({ minLength: 1, maxLength: MAX_ENDPOINT_LENGTH, description: 'The push service URL the browser gave.' }),
  // One schema with both types, not a union: with type coercion on, a union's integer
  // branch would turn null into 0.
  expirationTime: Type.Optional(Type.Unsafe<number | null>({
    type: ['integer', 'null'], minimum: 0, maximum: 8.64e15, description: 'When the subscription ends (ms since the epoch), or null.',
  })),
  keys: Type.Object({
    p256dh: Base64Url('The browser\'s P-256 public key (base64url, 65 bytes).'),
    auth: Base64Url('The browser\'s auth secret (base64url, 16 bytes).'),
  }, { additionalProperties: false }),
}, { additionalProperties: false, description: 'A browser PushSubscription as `JSON.stringify(subscription)` gives it.' });

const StoredSubscription = Type.Object({
  id: Type.String(),
  endpoint: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const ReadBody = Type.Object({ read_token: Type.String({ minLength: 1, maxLength: MAX_READ_TOKEN_CHARS }) }, { additionalProperties: false });

const SUBSCRIBE = { auth: { scope: 'subscribe' } } as const;

function enabled(push: PushSettings | null): PushSettings {
  if (push === null) throw new HeraldError('not_found', 'Web Push is not configured on this server (HERALD_VAPID_PUBLIC_KEY, HERALD_VAPID_PRIVATE_KEY, HERALD_VAPID_SUBJECT).');
  return push;
}

function decoded(value: string): Buffer {
  return Buffer.from(value.replace(/=+$/, ''), 'base64url');
}

/** The browser's keys, checked: a point on P-256 (ECDH with it works) and a 16-byte secret. */
function checkKeys(p256dh: string, auth: string): void {
  const point = decoded(p256dh);
  let valid = point.length === 65 && point[0] === 4;
  if (valid) {
    try {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      ecdh.computeSecret(point);
    } catch {
      valid = false;
    }
  }
  if (!valid) throw new HeraldError('invalid_request', 'keys.p256dh must be the browser\'s P-256 public key: 65 bytes, base64url.');
  if (decoded(auth).length !== 16) throw new HeraldError('invalid_request', 'keys.auth must be the browser\'s 16-byte auth secret, base64url.');
}

function stored(row: PushSubscriptionRow) {
  return { id: row.id, endpoint: row.endpoint, created_at: row.created_at };
}

export function pushRoutes(app: FastifyInstance, deps: PushRouteDeps): void {
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();
  const { store } = deps;

  routes.get('/v1/push/vapid-public-key', {
    schema: {
      querystring: NoQuery, tags: ['push'], summary: 'Herald\'s VAPID public key: the `applicationServerKey` of `pushManager.subscribe()`.',
      response: responses({ 200: Type.Object({ public_key: Type.String({ description: 'base64url raw P-256 public key' }) }) }, 400, 404, ...AUTH_ERRORS),
    },
    config: SUBSCRIBE,
  }, async () => ({ public_key: enabled(deps.push).publicKey }));

  routes.post('/v1/push/subscriptions', {
    schema: {
      body: SubscriptionBody, querystring: NoQuery, tags: ['push'],
      summary: 'Store this browser\'s push subscription for the user: 201 when new, 200 when the endpoint was stored already (it now belongs to this user).',
      response: responses({ 200: StoredSubscription, 201: StoredSubscription }, 400, 404, 413, 415, ...AUTH_ERRORS),
    },
    config: SUBSCRIBE,
  }, async (request, reply) => {
    const push = enabled(deps.push);
    const { sub } = principalOf(request);
    const { endpoint, keys, expirationTime } = request.body;
    const refusal = endpointRefusal(endpoint, push.allowedOrigins);
    if (refusal !== null) throw new HeraldError('push_endpoint_not_allowed', `Herald will not send pushes there: ${refusal}.`);
    checkKeys(keys.p256dh, keys.auth);
    const now = deps.hub.clock.now();
    if (typeof expirationTime === 'number' && expirationTime <= now) throw new HeraldError('invalid_request', 'expirationTime has passed: the subscription has ended; subscribe again.');
    const saved = await store.push().saveSubscription(sub, {
      endpoint, p256dh: keys.p256dh.replace(/=+$/, ''), auth: keys.auth.replace(/=+$/, ''),
      expirationTime: typeof expirationTime === 'number' ? new Date(expirationTime).toISOString() : null,
    }, new Date(now).toISOString(), MAX_SUBSCRIPTIONS_PER_USER);
    return reply.status(saved.created ? 201 : 200).send(stored(saved.subscription));
  });

  routes.get('/v1/push/subscriptions', {
    schema: {
      querystring: NoQuery, tags: ['push'], summary: 'The user\'s push subscriptions, oldest first.',
      response: responses({ 200: Type.Object({ items: Type.Array(StoredSubscription) }) }, 400, 404, ...AUTH_ERRORS),
    },
    config: SUBSCRIBE,
  }, async (request) => {
    enabled(deps.push);
    return { items: (await store.push().subscriptionsOf(principalOf(request).sub)).map(stored) };
  });

  routes.delete('/v1/push/subscriptions/:id', {
    schema: {
      params: IdParams, querystring: NoQuery, tags: ['push'], summary: 'Delete one of the user\'s push subscriptions; pushes queued for it go too.',
      response: responses({ 204: Type.Null({ description: 'Deleted.' }) }, 400, 404, ...AUTH_ERRORS),
    },
    config: SUBSCRIBE,
  }, async (request, reply) => {
    enabled(deps.push);
    // Another user's id answers exactly like an unknown one.
    if (!(await store.push().deleteSubscription(principalOf(request).sub, request.params.id))) {
      throw new HeraldError('not_found', `No push subscription ${JSON.stringify(request.params.id)} of yours.`);
    }
    return reply.status(204).send();
  });

  routes.post('/v1/push/read', {
    schema: {
      body: ReadBody, querystring: NoQuery, tags: ['push'], security: [],
      summary: 'Mark the notification of a push read, with the push\'s `read_token` (what the service worker sends on a click; no access token).',
      response: responses({ 204: Type.Null({ description: 'Marked read.' }) }, 400, 401, 404, 408, 413, 415, 429, 500, 503),
    },
    // The token is the credential: limited per client address, as the request carries no user.
    config: { rateLimit: { max: deps.config.userRatePerMinute, timeWindow: 60_000 } },
  }, async (request, reply) => {
    const push = enabled(deps.push);
    const grant = await push.readTokens.verify(request.body.read_token);
    // The grant names the user: the same change (and the same hint to their streams) as their own PATCH.
    const principal = { sub: grant.user, scopes: new Set(['subscribe'] as const), groups: [], exp: 0 };
    const updated = await deps.inbox.update(principal, grant.notificationId, { status: 'read' });
    if (!updated) throw new HeraldError('not_found', 'The notification is no longer in the inbox.');
    return reply.status(204).send();
  });
}
