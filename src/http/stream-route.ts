import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { audienceOf } from '../auth/principal.js';
import { HeraldError } from '../errors.js';
import { MAX_CURSOR_CHARS } from '../sse/cursor.js';
import { audienceKey } from '../domain/topics.js';
import { retryHintMs, StreamSession, type SessionDeps } from '../sse/session.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { Hub } from '../sse/hub.js';
import type { NotificationStore } from '../store/store.js';
import type { AuthenticateStream, StreamCredential } from './authenticate.js';
import { AUTH_ERRORS, errorResponses } from './schemas.js';
import { detachStream } from './detach-stream.js';
import { compactSentHead, releaseRequestState } from './compact-stream.js';

const StreamQuery = Type.Object({
  access_token: Type.Optional(Type.String({ maxLength: 8192 })),
  ticket: Type.Optional(Type.String({ maxLength: 4096 })),
  last_event_id: Type.Optional(Type.String({ maxLength: MAX_CURSOR_CHARS })),
}, { additionalProperties: false });

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  // nginx: do not buffer this response.
  'x-accel-buffering': 'no',
};

const DOCUMENT_HEADERS = [
  'content-security-policy', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'origin-agent-cluster',
  'referrer-policy', 'x-dns-prefetch-control', 'x-download-options', 'x-frame-options', 'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

interface Arrival {
  credential: StreamCredential;
  /** True once the client has left (before its session existed to notice). */
  gone(): boolean;
  /** Stops watching (the session's own listeners take over). */
  stop(): void;
}

const arrivals = new WeakMap<FastifyRequest, Arrival>();

/**
 * The client may leave while its token is checked or its query validated; a session built
 * after that must not take a slot (its 'close' has already fired and would never come again).
 */
function watchArrival(res: ServerResponse): { gone(): boolean; stop(): void } {
  let gone = false;
  const onClose = (): void => {
    gone = true;
  };
  res.once('close', onClose);
  return { gone: () => gone, stop: () => res.off('close', onClose) };
}

export interface StreamRouteDeps {
  hub: Hub;
  store: NotificationStore;
  metrics: Metrics;
  config: Pick<Config, 'maxStreamAgeMs' | 'streamBufferBytes' | 'streamCloseGraceMs'>;
  authenticateStream: AuthenticateStream;
}

/** `GET /v1/stream`: the user's notifications as Server-Sent Events (docs/protocol.md). */
export function streamRoute(app: FastifyInstance, deps: StreamRouteDeps): void {
  // Request bodies, queries and params are typed from their schemas.
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();
  const { hub, store, config } = deps;
  const sessionDeps: SessionDeps = {
    bufferLimit: config.streamBufferBytes,
    closeGraceMs: config.streamCloseGraceMs,
    store,
    clock: hub.clock,
    onClose: hub.onSessionClosed,
    onReplayed: hub.onReplayed,
  };
  // Detached streams are outside the server's connection tracking: closing the server
  // closes them, as it does every other connection.
  const detached = new Set<Socket>();
  const forgetDetached = function (this: Socket): void {
    detached.delete(this);
  };
  app.addHook('preClose', (done) => {
    for (const socket of detached) socket.destroy();
    done();
  });
  routes.get('/v1/stream', {
    schema: {
      querystring: StreamQuery, summary: 'The user\'s notifications as Server-Sent Events (docs/protocol.md).', tags: ['stream'],
      description: 'Resume with the `Last-Event-ID` header or `last_event_id`; a cursor that cannot be resumed gets a `reset` event, not an error.',
      response: {
        200: { description: 'An event stream: ready, notification, notification.updated, reset, auth-expired.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        ...errorResponses(400, ...AUTH_ERRORS),
      },
    },
    // Authenticated first, like every /v1 route, before the query is validated. A ticket is
    // only checked here: it is spent after admission, in the handler.
    onRequest: async (request, reply) => {
      const arrival = watchArrival(reply.raw);
      try {
        arrivals.set(request, { credential: await deps.authenticateStream(request), ...arrival });
      } catch (err) {
        arrival.stop();
        deps.metrics.rejected.inc({ code: err instanceof HeraldError ? err.code : 'internal' });
        throw err;
      }
    },
  }, async (request, reply) => {
    const res = reply.raw;
    const arrival = arrivals.get(request);
    if (!arrival) throw new HeraldError('invalid_token');
    let session: StreamSession;
    let fastifyListeners: Record<'finish' | 'error', unknown[]> = { finish: [], error: [] };
    try {
      const { credential } = arrival;
      // Admission before the ticket is spent: a full or draining node answers 503 and the
      // next node (nginx retries it) can still accept the same ticket.
      hub.admit(credential.principal.sub, request.ip);
      if (arrival.gone()) return reply.hijack();
      const { principal } = credential;
      const audience = audienceOf(principal);
      const maxAge = config.maxStreamAgeMs;
      const now = hub.clock.now();
      fastifyListeners = { finish: res.listeners('finish'), error: res.listeners('error') };
      session = new StreamSession(res, {
        id: randomUUID(),
        audience,
        audienceKey: audienceKey(audience),
        ip: request.ip,
        epoch: store.epoch,
        expiresAt: principal.exp * 1000,
        maxAgeAt: maxAge > 0 ? now + maxAge * (0.9 + Math.random() * 0.1) : Infinity,
        deps: sessionDeps,
      });
      arrival.stop();
      hub.register(session);
      try {
        await credential.spend();
      } catch (err) {
        session.close('refused');
        throw err;
      }
    } catch (err) {
      deps.metrics.rejected.inc({ code: err instanceof HeraldError ? err.code : 'internal' });
      throw err;
    }
    if (session.closed) return reply.hijack();

    const header = request.headers['last-event-id'];
    const query = request.query;
    // An empty cursor is no cursor: a new client, not one to reset.
    const rawCursor = (typeof header === 'string' && header !== '' ? header : undefined) ?? (query.last_event_id || null);

    reply.hijack();
    releaseRequestState(res, fastifyListeners);
    // Headers that only mean something for a document: every stream would carry ~1 KB of them
    // on the wire and in memory for its whole life.
    for (const name of DOCUMENT_HEADERS) res.removeHeader(name);
    request.raw.socket.setNoDelay(true);
    request.raw.socket.setTimeout(0);
    // Flush headers and a first line at once, so no proxy waits for the first event.
    session.sendHead({ ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS }, retryHintMs(2000));
    request.log.info({ req: request, connection: session.id, user: session.user }, 'stream opened');
    compactSentHead(request.raw, res);
    const socket = detachStream(request.raw, res);
    if (socket !== null) {
      session.writeTo(socket);
      detached.add(socket);
      socket.on('close', forgetDetached);
    }
    try {
      await hub.open(session, rawCursor);
    } catch (err) {
      request.log.warn({ err, connection: session.id }, 'stream failed to open');
      session.close('error');
    }
  });
}
