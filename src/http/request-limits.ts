import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { errorBody, HeraldError, type ErrorCode } from '../errors.js';

/** Refuses request URLs (path + query) longer than `maxUrlBytes` with 414, before routing work. */
export function urlLengthLimit(app: FastifyInstance, maxUrlBytes: number): void {
  app.addHook('onRequest', async (request) => {
    if (Buffer.byteLength(request.raw.url ?? '') > maxUrlBytes) {
      throw new HeraldError('uri_too_long', `The URL is longer than ${maxUrlBytes} bytes.`);
    }
  });
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
