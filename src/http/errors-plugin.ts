import type { FastifyError, FastifyInstance } from 'fastify';
import { ERRORS, errorBody, HeraldError, isUnreachable, type ErrorCode } from '../errors.js';

// Fastify's own failures mapped onto Herald's stable codes, each with the message it answers.
const FASTIFY_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', message: ERRORS.payload_too_large.message },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', message: ERRORS.unsupported_media_type.message },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', message: 'Content-Length does not match the body.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_request', message: 'The body is empty; send a JSON object.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_request', message: 'The body is not valid JSON.' },
};

/** Every error leaves as `{"error":{"code","message"}}` with the status of its code. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let herald: HeraldError;
    if (error instanceof HeraldError) herald = error;
    else if (error.validation) herald = new HeraldError('invalid_request', validationMessage(error));
    else if (error.code && FASTIFY_ERRORS[error.code]) {
      const known = FASTIFY_ERRORS[error.code] as { code: ErrorCode; message: string };
      herald = new HeraldError(known.code, known.message);
    } else if (error instanceof SyntaxError) herald = new HeraldError('invalid_request', 'The body is not valid JSON.');
    else if (error.statusCode === 400) herald = new HeraldError('invalid_request', error.message);
    else if (error.statusCode === 429) herald = new HeraldError('rate_limited', error.message, Number(reply.getHeader('retry-after')) || 60);
    else if (error.statusCode === 413) herald = new HeraldError('payload_too_large');
    else if (error.statusCode === 415) herald = new HeraldError('unsupported_media_type');
    else {
      request.log.error({ err: error }, 'request failed');
      herald = isUnreachable(error) ? new HeraldError('unavailable', undefined, 2) : new HeraldError('internal');
    }
    if (herald.code === 'invalid_token') reply.header('www-authenticate', 'Bearer error="invalid_token"');
    if (herald.code === 'insufficient_scope') reply.header('www-authenticate', 'Bearer error="insufficient_scope"');
    if (herald.retryAfterS !== undefined) reply.header('retry-after', String(herald.retryAfterS));
    reply.status(herald.status).send(errorBody(herald.code, herald.message));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
}

function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const where = `${error.validationContext ?? 'request'}${first.instancePath.replace(/\//g, '.')}`;
  if (first.keyword === 'additionalProperties') {
    return `${where}: unknown parameter "${String(first.params.additionalProperty)}".`;
  }
  return `${where}: ${first.message ?? 'is invalid'}.`;
}
