import type { FastifyError, FastifyInstance } from 'fastify';
import { ERRORS, errorBody, HeraldError, type ErrorCode } from '../errors.js';

// Fastify's own failures mapped onto Herald's stable codes.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
};

/** Every error leaves as `{"error":{"code","message"}}` with the status of its code. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let herald: HeraldError;
    if (error instanceof HeraldError) herald = error;
    else if (error.validation) herald = new HeraldError('invalid_request', validationMessage(error));
    else if (error.code && FASTIFY_CODES[error.code]) herald = new HeraldError(FASTIFY_CODES[error.code] as ErrorCode, fastifyMessage(error));
    else if (error instanceof SyntaxError || (error.statusCode === 400)) herald = new HeraldError('invalid_request', 'The body is not valid JSON.');
    else if (error.statusCode === 429) herald = new HeraldError('rate_limited', error.message, Number(reply.getHeader('retry-after')) || 60);
    else if (error.statusCode === 413) herald = new HeraldError('payload_too_large');
    else if (error.statusCode === 415) herald = new HeraldError('unsupported_media_type');
    else {
      request.log.error({ err: error }, 'request failed');
      herald = new HeraldError(isUnavailable(error) ? 'unavailable' : 'internal', undefined, isUnavailable(error) ? 2 : undefined);
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

function fastifyMessage(error: FastifyError): string {
  const code = FASTIFY_CODES[error.code] as ErrorCode;
  if (code === 'invalid_request') return 'The body is not valid JSON.';
  return ERRORS[code].message;
}

// Errors from an unreachable database or broker answer 503 so clients retry.
function isUnavailable(error: Error & { code?: string }): boolean {
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03', '08006', '08001', 'SQLITE_BUSY'].includes(error.code ?? '') ||
    /connect|terminat|timeout/i.test(error.message);
}
