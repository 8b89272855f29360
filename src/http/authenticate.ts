import type { FastifyRequest } from 'fastify';
import type { Principal, Scope } from '../auth/principal.js';
import type { TokenVerifier } from '../auth/jwt.js';
import { HeraldError } from '../errors.js';
import type { Metrics } from '../metrics.js';

export const TOKEN_COOKIE = 'herald_token';

/** Bearer header (SDK), `access_token` query (native EventSource) or the cookie, in that order. */
export function tokenFromRequest(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
    return match?.[1] ?? '';
  }
  const query = request.query as Record<string, unknown> | undefined;
  if (typeof query?.access_token === 'string') return query.access_token;
  const cookie = request.headers.cookie;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === TOKEN_COOKIE) return rest.join('=');
    }
  }
  return null;
}

export type Authenticate = (request: FastifyRequest, scope: Scope) => Promise<Principal>;

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
    if (!principal.scopes.has(scope) && !principal.scopes.has('admin')) {
      throw new HeraldError('insufficient_scope', `This endpoint needs a token with the "${scope}" scope.`);
    }
    return principal;
  };
}
