import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TicketService } from '../auth/tickets.js';
import { HeraldError } from '../errors.js';
import type { Config } from '../config.js';
import { AUTH_ERRORS, responses, Responses } from './schemas.js';
import { bearerToken, principalOf, subjectKey, TOKEN_COOKIE } from './authenticate.js';

const NoQuery = Type.Object({}, { additionalProperties: false });

/**
 * `POST /v1/stream/tickets`: a one-time ticket for `GET /v1/stream?ticket=…`, so a native
 * EventSource never carries the long-lived token in a URL.
 * `POST /v1/session` / `DELETE /v1/session`: set or clear the HttpOnly `herald_token`
 * cookie for same-origin pages, from a token sent in the Authorization header.
 */
export interface TicketRouteDeps {
  config: Pick<Config, 'ticketRatePerMinute'>;
}

export function ticketRoutes(app: FastifyInstance, deps: TicketRouteDeps, tickets: TicketService): void {
  const { config } = deps;

  app.post('/v1/stream/tickets', {
    schema: {
      querystring: NoQuery, summary: 'A one-time ticket to open a stream without a token in the URL.', tags: ['stream'],
      response: responses({ 200: Responses.ticket }, 400, ...AUTH_ERRORS),
    },
    config: { auth: { scope: 'subscribe' }, rateLimit: { max: config.ticketRatePerMinute, timeWindow: 60_000, hook: 'preParsing', keyGenerator: subjectKey } },
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return tickets.issue(principalOf(request));
  });

  // Only a header token becomes a cookie: a token from a URL or another cookie does not.
  app.post('/v1/session', {
    schema: {
      querystring: NoQuery, summary: 'Set the HttpOnly session cookie from the bearer token.', tags: ['session'],
      response: responses({ 200: Responses.session }, 400, ...AUTH_ERRORS),
    },
    config: { auth: { scope: 'subscribe', bearerOnly: true } },
  }, async (request, reply) => {
    const token = bearerToken(request);
    if (!token) throw new HeraldError('invalid_token');
    const principal = principalOf(request);
    const maxAge = principal.exp - Math.floor(Date.now() / 1000);
    if (maxAge <= 0) throw new HeraldError('invalid_token');
    reply.header('set-cookie', sessionCookie(token, maxAge, request.protocol === 'https'));
    reply.header('cache-control', 'no-store');
    return { user: principal.sub, expires_at: new Date(principal.exp * 1000).toISOString() };
  });

  // Who the session cookie (or token) belongs to: lets a reloaded page find its session
  // without the token ever being readable by script.
  app.get('/v1/session', {
    schema: {
      querystring: NoQuery, summary: 'Who the session cookie (or token) belongs to.', tags: ['session'],
      response: responses({ 200: Responses.session }, 400, ...AUTH_ERRORS),
    },
    config: { auth: { scope: 'subscribe' } },
  }, async (request, reply) => {
    const principal = principalOf(request);
    reply.header('cache-control', 'no-store');
    return { user: principal.sub, expires_at: new Date(principal.exp * 1000).toISOString() };
  });

  app.delete('/v1/session', {
    schema: {
      querystring: NoQuery, summary: 'Clear the session cookie.', tags: ['session'], security: [],
      response: responses({ 204: Type.Null({ description: 'Cookie cleared.' }) }, 400, 403, 500),
    },
  }, async (request, reply) => {
    reply.header('set-cookie', sessionCookie('', 0, request.protocol === 'https'));
    return reply.status(204).send();
  });
}

/** HttpOnly (no script reads it), SameSite=Strict (no cross-site request carries it). */
function sessionCookie(value: string, maxAgeS: number, secure: boolean): string {
  return `${TOKEN_COOKIE}=${value}; Path=/v1; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
