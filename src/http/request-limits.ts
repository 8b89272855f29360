import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, HeraldError, type ErrorCode } from '../errors.js';

/** Refuses request URLs (path + query) longer than `maxUrlBytes` with 414, before routing work. */
export function urlLengthLimit(app: FastifyInstance, maxUrlBytes: number): void {
  app.addHook('onRequest', async (request) => {
    if (Buffer.byteLength(request.raw.url ?? '') > maxUrlBytes) {
      throw new HeraldError('uri_too_long', `The URL is longer than ${maxUrlBytes} bytes.`);
    }
  });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by `refuseUnwantedBodies` on every route whose schema declares no body. */
    takesNoBody?: boolean;
  }
}

/**
 * A route whose schema declares no body takes none. A request to it that announces one
 * (Content-Length above 0, or Transfer-Encoding) is answered from its head, before a byte
 * of the body is read, and its connection is closed, so a body trickled a byte at a time
 * holds nothing: 413 `body_not_allowed`, or whatever refuses it first (authentication still
 * answers before anything else looks at the request: an unauthenticated one gets its 401).
 * Fastify refuses `bodyLimit: 0`; without this a GET's body was read and dropped and a
 * body-less POST's parsed, up to HERALD_REQUEST_TIMEOUT_MS.
 *
 * Two hooks: one before authentication marks every answer to such a request
 * `Connection: close`; one on each body-less route, after authentication, refuses it. Add
 * before authentication and before the routes (it marks them as they are added). A request
 * that announces no body (every GET a browser sends, the stream) costs two header reads.
 */
export function refuseUnwantedBodies(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.schema?.body !== undefined) return;
    route.config = { ...(route.config ?? {}), takesNoBody: true } as typeof route.config;
    // Appended: the route's own hooks (the stream authenticates in one) answer first.
    const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [...own, refuseBody];
  });
  app.addHook('onRequest', (request, reply, done) => {
    // Node then closes the connection once the answer is sent, instead of reading the body to keep it alive.
    if (announcesBody(request) && request.routeOptions.config.takesNoBody === true) reply.header('connection', 'close');
    done();
  });
}

function announcesBody(request: FastifyRequest): boolean {
  const headers = request.raw.headers;
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0' && Number(length) !== 0);
}

function refuseBody(request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  if (!announcesBody(request)) return done();
  done(new HeraldError('body_not_allowed', `${request.method} ${request.url.split('?')[0]} takes no request body: send it without one (no Content-Length above 0, no Transfer-Encoding).`));
}

/**
 * Node's HTTP parser refuses some requests before Fastify sees them (a head over
 * `maxHeaderSize`, malformed syntax, CR/LF inside a header value): answer those in Herald's
 * error shape too, then close the connection, as Node does.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let code: ErrorCode = 'invalid_request';
  let message = 'The HTTP request is malformed.';
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    code = 'header_too_large';
    message = 'The request line and headers are too large.';
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    code = 'request_timeout';
    message = 'The request took too long to arrive.';
  }
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
