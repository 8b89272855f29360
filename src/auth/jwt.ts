import { jwtVerify, SignJWT, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { HeraldError } from '../errors.js';
import type { VerificationKeys } from './keys.js';
import { isValidUserId, parseGroups, parseScopes, type Principal } from './principal.js';

export interface TokenVerifier {
  /** The principal of a valid token; HeraldError('invalid_token') for anything else. */
  verify(token: string): Promise<Principal>;
}

export interface VerifierOptions {
  keys: VerificationKeys;
  audience: string | null;
  issuer: string | null;
  clockToleranceS: number;
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
  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_CHARS) throw new HeraldError('invalid_token');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, options.keys.getKey, verifyOptions));
      } catch {
        // One generic answer: the reason stays out of the response.
        throw new HeraldError('invalid_token');
      }
      return principalFromPayload(payload);
    },
  };
}

/** HS256-only verification (kept for callers that hold just a secret). */
export function createHs256Verifier(options: Omit<VerifierOptions, 'keys'> & { secret: string }): TokenVerifier {
  const secret = new TextEncoder().encode(options.secret);
  return createTokenVerifier({ ...options, keys: { algorithms: ['HS256'], getKey: async () => secret } });
}

export function principalFromPayload(payload: JWTPayload): Principal {
  if (!isValidUserId(payload.sub) || typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw new HeraldError('invalid_token');
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
