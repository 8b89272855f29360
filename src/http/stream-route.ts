import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { audienceOf } from '../auth/principal.js';
import { HeraldError } from '../errors.js';
import { encodeEvent } from '../sse/encode.js';
import { audienceKey } from '../sse/hub.js';
import { StreamSession } from '../sse/session.js';
import type { AppDeps } from '../app.js';
import { AUTH_ERRORS, errorResponses } from './schemas.js';

const StreamQuery = Type.Object({
  access_token: Type.Optional(Type.String({ maxLength: 8192 })),
  ticket: Type.Optional(Type.String({ maxLength: 4096 })),
  last_event_id: Type.Optional(Type.String({ maxLength: 4096 })),
}, { additionalProperties: false });

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  // nginx: do not buffer this response.
  'x-accel-buffering': 'no',
};

/** `GET /v1/stream`: the user's notifications as Server-Sent Events (docs/protocol.md). */
export function streamRoute(app: FastifyInstance, deps: AppDeps): void {
  const { hub, store, config } = deps;
  app.get('/v1/stream', {
    schema: {
      querystring: StreamQuery, summary: 'The user\'s notifications as Server-Sent Events (docs/protocol.md).', tags: ['stream'],
      description: 'Resume with the `Last-Event-ID` header or `last_event_id`; a cursor that cannot be resumed gets a `reset` event, not an error.',
      response: {
        200: { description: 'An event stream: ready, notification, notification.updated, reset, auth-expired.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        ...errorResponses(400, ...AUTH_ERRORS),
      },
    },
  }, async (request, reply) => {
    let principal;
    try {
      principal = await deps.authenticateStream(request);
      hub.admit(principal.sub, request.ip);
    } catch (err) {
      deps.metrics.rejected.inc({ code: err instanceof HeraldError ? err.code : 'internal' });
      throw err;
    }
    const header = request.headers['last-event-id'];
    const query = request.query as { last_event_id?: string };
    const rawCursor = (typeof header === 'string' ? header : undefined) ?? query.last_event_id ?? null;

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS });
    request.raw.socket.setNoDelay(true);
    request.raw.socket.setTimeout(0);
    // Flush headers and a first line at once, so no proxy waits for the first event.
    res.write(encodeEvent({ retry: 1000 + Math.floor(Math.random() * 2000) }));

    const audience = audienceOf(principal);
    const maxAge = config.maxStreamAgeMs;
    const session = new StreamSession(res, {
      id: randomUUID(),
      audience,
      audienceKey: audienceKey(audience),
      ip: request.ip,
      epoch: store.epoch,
      expiresAt: principal.exp * 1000,
      maxAgeAt: maxAge > 0 ? Date.now() + maxAge * (0.9 + Math.random() * 0.1) : Infinity,
      bufferLimit: config.streamBufferBytes,
      pendingLimit: 10000,
      onClose: hub.onSessionClosed,
      onReplayed: hub.onReplayed,
    });
    request.log.info({ connection: session.id, user: principal.sub }, 'stream opened');
    try {
      await hub.open(session, rawCursor);
    } catch (err) {
      request.log.warn({ err, connection: session.id }, 'stream failed to open');
      session.close('error');
    }
  });
}
