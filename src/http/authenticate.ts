import type { FastifyRequest } from 'fastify';
import type { Principal, Scope } from '../auth/principal.js';
import type { TokenVerifier } from '../auth/jwt.js';
import type { TicketService } from '../auth/tickets.js';
import { HeraldError } from '../errors.js';
import type { Metrics } from '../metrics.js';

export const TOKEN_COOKIE = 'herald_token';

// RFC 6750 §2.1: the scheme is case-insensitive, the credentials are a token68.
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** The `Authorization: Bearer` token; '' for a malformed header, null when there is none. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  return BEARER.exec(header)?.[1] ?? '';
}

/** The `herald_token` cookie, or null. */
export function cookieToken(request: FastifyRequest): string | null {
  const cookie = request.headers.cookie;
  if (!cookie) return null;
  for (const part of cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === TOKEN_COOKIE) return rest.join('=');
  }
  return null;
}

/** Bearer header (SDK), `access_token` query (native EventSource) or the cookie, in that order. */
export function tokenFromRequest(request: FastifyRequest): string | null {
  const bearer = bearerToken(request);
  if (bearer !== null) return bearer;
  const query = request.query as Record<string, unknown> | undefined;
  if (typeof query?.access_token === 'string') return query.access_token;
  return cookieToken(request);
}

export type Authenticate = (request: FastifyRequest, scope: Scope) => Promise<Principal>;

export function requireScope(principal: Principal, scope: Scope): Principal {
  if (!principal.scopes.has(scope) && !principal.scopes.has('admin')) {
    throw new HeraldError('insufficient_scope', `This endpoint needs a token with the "${scope}" scope.`);
  }
  return principal;
}

export function createAuthenticate(verifier: TokenVerifier, metrics: Metrics): Authenticate {
  return async (request, scope) => {
    const token = tokenFromRequest(request);
    let principal: Principal;
    try {
      if (!token) throw new HeraldError('invalid_token');
      principal = await verifier.verify(token);
    } catch (err) {
      metrics.authFailures.inc();
      throw err;
    }
    return requireScope(principal, scope);
  };
}

const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * A route `onRequest` hook that authenticates before anything else runs, so later hooks
 * (the per-token rate limit) can key on the verified `sub`; read it with `principalOf`.
 */
export function authenticated(authenticate: Authenticate, scope: Scope): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    principals.set(request, await authenticate(request, scope));
  };
}

/** The principal an `authenticated` hook verified for this request. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (!principal) throw new HeraldError('invalid_token');
  return principal;
}

/** Rate-limit key: the verified token subject (never a claim read from an unverified token). */
export function subjectKey(request: FastifyRequest): string {
  return `sub:${principalOf(request).sub}`;
}

/** Who opens a stream, and how to use up a one-time ticket once the stream is admitted. */
export interface StreamCredential {
  principal: Principal;
  /** Uses up the ticket (a no-op for a token); throws HeraldError('invalid_token') when already used. */
  spend(): Promise<void>;
}

export type AuthenticateStream = (request: FastifyRequest) => Promise<StreamCredential>;

const NOTHING_TO_SPEND = async (): Promise<void> => {};

/**
 * Stream authentication: a one-time `ticket` query parameter, else whatever `authenticate`
 * takes. A ticket is only checked here; the route spends it after admission, so a node
 * that refuses the stream (full, draining) leaves it usable on the next one.
 */
export function createAuthenticateStream(authenticate: Authenticate, tickets: TicketService, metrics: Metrics): AuthenticateStream {
  return async (request) => {
    const query = request.query as Record<string, unknown> | undefined;
    if (query?.ticket === undefined) return { principal: await authenticate(request, 'subscribe'), spend: NOTHING_TO_SPEND };
    try {
      if (typeof query.ticket !== 'string') throw new HeraldError('invalid_token');
      const verified = await tickets.verify(query.ticket);
      return {
        principal: verified.principal,
        spend: async () => {
          try {
            await tickets.spend(verified);
          } catch (err) {
            metrics.authFailures.inc();
            throw err;
          }
        },
      };
    } catch (err) {
      metrics.authFailures.inc();
      throw err;
    }
  };
}
