import { jwtVerify, SignJWT, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { HeraldError } from '../errors.js';
import type { Clock } from '../domain/clock.js';
import type { VerificationKeys } from './keys.js';
import { isValidUserId, parseGroups, parseScopes, type Principal } from './principal.js';

/**
 * A refused token: the answer is the generic `invalid_token`; `reason` (never the token) is
 * for the node's log and `herald token --verify`, so an operator can tell an expired token
 * from a wrong audience without the client learning which.
 */
export class TokenRefused extends HeraldError {
  readonly reason: string;

  constructor(reason: string) {
    super('invalid_token');
    this.reason = reason;
  }
}

/** Why jose refused a token, in words (its error codes are stable API). */
export function refusalReason(err: unknown): string {
  const { code, claim } = (err ?? {}) as { code?: string; claim?: string };
  switch (code) {
    case 'ERR_JWT_EXPIRED': return 'expired';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': return 'bad signature (signed with another key)';
    case 'ERR_JOSE_ALG_NOT_ALLOWED': return 'algorithm not allowed for the configured keys';
    case 'ERR_JWKS_NO_MATCHING_KEY': return 'unknown kid (no key in the JWKS matches)';
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS': return 'several JWKS keys match its kid';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'aud') return 'wrong audience (aud is not HERALD_JWT_AUDIENCE)';
      if (claim === 'iss') return 'wrong issuer (iss is not HERALD_JWT_ISSUER)';
      if (claim === 'nbf') return 'not valid yet (nbf is in the future)';
      return `claim ${claim ?? '?'} missing or invalid`;
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID': return 'malformed';
    default: return 'no key for its algorithm, or unreadable';
  }
}

export interface TokenVerifier {
  /** The principal of a valid token; HeraldError('invalid_token') for anything else. */
  verify(token: string): Promise<Principal>;
}

export interface VerifierOptions {
  keys: VerificationKeys;
  audience: string | null;
  issuer: string | null;
  clockToleranceS: number;
  /** The time `exp` and `nbf` are judged at (default: this machine's clock). */
  clock?: Clock;
  /** Verified tokens remembered by their text; null turns the cache off. Default: on. */
  cache?: Partial<TokenCacheOptions> | null;
}

export interface TokenCacheOptions {
  /** Most tokens remembered; the least recently used is dropped first. */
  maxEntries: number;
  /**
   * Longest a verification is trusted, whatever the token's `exp`: bounds how long a token
   * signed by a key since removed from a JWKS is still accepted.
   */
  maxAgeMs: number;
  /** The clock, in ms since the epoch (tests inject one). */
  now: () => number;
}

// A publisher sends the same token on every request, so a few hundred entries already skip
// nearly every signature check; stream tokens (one verification per connection) pass
// through without pushing busy publishers out, as a hit moves an entry to the back.
export const TOKEN_CACHE_DEFAULTS: TokenCacheOptions = { maxEntries: 1024, maxAgeMs: 5 * 60_000, now: Date.now };

interface CachedPrincipal {
  principal: Principal;
  /** The cached answer is used strictly before this instant (ms): never past `exp`. */
  validUntilMs: number;
}

/**
 * Successful verifications only, keyed by the exact token text. An entry is never served at
 * or after the token's `exp` (the clock tolerance is not applied to cached answers), so a
 * cached token expires no later than a checked one would; failures are never remembered.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, CachedPrincipal>();
  readonly #options: TokenCacheOptions;

  constructor(options: Partial<TokenCacheOptions> = {}) {
    this.#options = { ...TOKEN_CACHE_DEFAULTS, ...options };
  }

  get size(): number {
    return this.#entries.size;
  }

  get(token: string): Principal | null {
    const entry = this.#entries.get(token);
    if (!entry) return null;
    this.#entries.delete(token);
    if (this.#options.now() >= entry.validUntilMs) return null;
    // Re-inserted at the back: Map order is the recency order the eviction reads.
    this.#entries.set(token, entry);
    return entry.principal;
  }

  set(token: string, principal: Principal): void {
    if (this.#options.maxEntries <= 0) return;
    const now = this.#options.now();
    const validUntilMs = Math.min(principal.exp * 1000, now + this.#options.maxAgeMs);
    if (now >= validUntilMs) return;
    this.#entries.delete(token);
    while (this.#entries.size >= this.#options.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(token, { principal, validUntilMs });
  }
}

/** A compact JWS longer than this is refused unparsed (headers cap it anyway). */
// A token naming the most groups a principal keeps (100 of 64 characters) is ~9.2 KB.
export const MAX_TOKEN_CHARS = 12288;

/**
 * Verification with the algorithms pinned to the configured keys, `exp` and `sub` required,
 * `nbf` honoured, `aud`/`iss` checked when configured, and one generic answer for failures.
 */
export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const verifyOptions: JWTVerifyOptions = {
    algorithms: options.keys.algorithms,
    requiredClaims: ['exp', 'sub'],
    clockTolerance: options.clockToleranceS,
    ...(options.audience ? { audience: options.audience } : {}),
    ...(options.issuer ? { issuer: options.issuer } : {}),
  };
  const clock = options.clock;
  const cache = options.cache === null ? null : new VerifiedTokenCache({ ...(clock ? { now: () => clock.now() } : {}), ...options.cache });
  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_CHARS) throw new TokenRefused(`longer than ${MAX_TOKEN_CHARS} characters`);
      const cached = cache?.get(token);
      if (cached) return cached;
      let payload: JWTPayload;
      try {
        const at = options.clock ? { ...verifyOptions, currentDate: new Date(options.clock.now()) } : verifyOptions;
        ({ payload } = await jwtVerify(token, options.keys.getKey, at));
      } catch (err) {
        // One generic answer: the reason stays out of the response.
        throw new TokenRefused(refusalReason(err));
      }
      const principal = principalFromPayload(payload);
      cache?.set(token, principal);
      return principal;
    },
  };
}

export function principalFromPayload(payload: JWTPayload): Principal {
  if (!isValidUserId(payload.sub)) throw new TokenRefused('sub is not a user id (1 to 256 printable characters without spaces)');
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw new TokenRefused('exp is not a number');
  return { sub: payload.sub, scopes: parseScopes(payload.scope), groups: parseGroups(payload.groups), exp: payload.exp };
}

export interface MintOptions {
  sub: string;
  scope?: string;
  groups?: string[];
  /** Lifetime in seconds. Default 24 h. */
  ttlS?: number;
  audience?: string | null;
  issuer?: string | null;
}

/** Mints an HS256 token (development tokens, the CLI, tests). */
export async function mintToken(secret: string, options: MintOptions): Promise<string> {
  const jwt = new SignJWT({ scope: options.scope ?? 'subscribe', ...(options.groups ? { groups: options.groups } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.ttlS ?? 24 * 3600));
  if (options.audience) jwt.setAudience(options.audience);
  if (options.issuer) jwt.setIssuer(options.issuer);
  return jwt.sign(new TextEncoder().encode(secret));
}
