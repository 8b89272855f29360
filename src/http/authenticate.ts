import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal, Scope } from '../auth/principal.js';
import { TokenRefused, type TokenVerifier } from '../auth/jwt.js';
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

/**
 * The `herald_token` cookie, or null. Two of them are refused: a sibling subdomain or another
 * port can plant a more specific cookie that the browser sends first, logging the victim
 * into the attacker's account.
 */
export function cookieToken(request: FastifyRequest): string | null {
  const cookie = request.headers.cookie;
  if (!cookie) return null;
  let found: string | null = null;
  for (const part of cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name !== TOKEN_COOKIE) continue;
    if (found !== null) throw new HeraldError('duplicate_cookie');
    found = rest.join('=');
  }
  return found;
}

/**
 * The `access_token` query parameter, taken only on `GET /v1/stream`: a native EventSource
 * cannot send a header, and nothing else needs a token in a URL, where proxies, browsers'
 * history and Referer headers keep it.
 */
export function queryToken(request: FastifyRequest): string | null {
  if (request.method !== 'GET' || request.routeOptions.url !== '/v1/stream') return null;
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.access_token === 'string' ? query.access_token : null;
}

/** True when the credential `tokenFromRequest` picks is the cookie (no header, no query token). */
export function authenticatesByCookie(request: FastifyRequest): boolean {
  if (bearerToken(request) !== null || queryToken(request) !== null) return false;
  return cookieToken(request) !== null;
}

/** Bearer header (SDK), `access_token` query (native EventSource, stream only) or the cookie, in that order. */
export function tokenFromRequest(request: FastifyRequest): string | null {
  return bearerToken(request) ?? queryToken(request) ?? cookieToken(request);
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
      if (err instanceof TokenRefused) request.log.info({ event: { reason: err.reason } }, `token refused: ${err.reason}`);
      throw err;
    }
    return requireScope(principal, scope);
  };
}

/** What a route declares in its `config.auth`; routes without it are not authenticated here. */
export interface RouteAuth {
  scope: Scope;
  /** Only an `Authorization: Bearer` token counts (turning a token into a cookie). */
  bearerOnly?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A cookie rides along on requests other sites trigger (SameSite=Strict still lets a sibling
 * subdomain or another port of the same host through), so a state-changing request that the
 * cookie authenticates must come from Herald's own page: `Sec-Fetch-Site: same-origin` (set
 * by the browser; no page can forge it, and any other value refuses), or, from a browser
 * that sends no Fetch Metadata, an `Origin` equal to Herald's public origin (HERALD_PUBLIC_URL),
 * else to the origin of the `Host` it was sent to. Other origins (CORS ones too) send a
 * Bearer token: cross-origin requests carry no cookie.
 */
export function checkCookieOrigin(request: FastifyRequest, publicOrigin: string | null): void {
  const site = request.headers['sec-fetch-site'];
  if (site === 'same-origin') return;
  if (site !== undefined) throw new HeraldError('origin_not_allowed');
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== 'null') {
    if (publicOrigin !== null ? origin === publicOrigin : sameHost(origin, request.headers.host)) return;
  }
  throw new HeraldError('origin_not_allowed');
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host === host?.toLowerCase();
  } catch {
    return false;
  }
}

const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * One `onRequest` hook authenticates every route that declares `config.auth`, before the
 * body is read or parsed (an unauthenticated request is answered 401 whatever its body) and
 * before the per-token rate limit, which keys on the verified `sub`; read it with `principalOf`.
 */
export function authenticateRoutes(app: FastifyInstance, authenticate: Authenticate, publicOrigin: string | null): void {
  app.addHook('onRequest', async (request) => {
    const auth = request.routeOptions.config.auth;
    if (!auth) return;
    if (auth.bearerOnly && !bearerToken(request)) throw new HeraldError('invalid_token');
    if (STATE_CHANGING.has(request.method) && authenticatesByCookie(request)) checkCookieOrigin(request, publicOrigin);
    principals.set(request, await authenticate(request, auth.scope));
  });
}

/**
 * Every route that authenticates and sets no limit of its own gets the per-user one: one
 * user must not be able to fill the node's event loop with inbox reads. Keyed by the
 * verified `sub`, counted before the body is read. Call before the routes are added and
 * before @fastify/rate-limit is registered (it reads `config.rateLimit` on each new route).
 */
export function limitAuthenticatedRoutes(app: FastifyInstance, perMinute: number): void {
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as { auth?: RouteAuth; rateLimit?: unknown };
    if (!config.auth || config.rateLimit !== undefined) return;
    route.config = { ...config, rateLimit: { max: perMinute, timeWindow: 60_000, hook: 'preParsing', keyGenerator: subjectKey } } as typeof route.config;
  });
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
