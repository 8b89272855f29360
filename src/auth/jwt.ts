import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { HeraldError } from '../errors.js';
import { isValidUserId, parseGroups, parseScopes, type Principal } from './principal.js';

export interface TokenVerifier {
  /** The principal of a valid token; HeraldError('invalid_token') for anything else. */
  verify(token: string): Promise<Principal>;
}

export interface VerifierOptions {
  secret: string;
  audience: string | null;
  issuer: string | null;
  clockToleranceS: number;
}

/** HS256 verification with the algorithm pinned and `exp` required. */
export function createHs256Verifier(options: VerifierOptions): TokenVerifier {
  const key = new TextEncoder().encode(options.secret);
  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          requiredClaims: ['exp', 'sub'],
          clockTolerance: options.clockToleranceS,
          ...(options.audience ? { audience: options.audience } : {}),
          ...(options.issuer ? { issuer: options.issuer } : {}),
        }));
      } catch {
        // One generic answer: the reason stays out of the response.
        throw new HeraldError('invalid_token');
      }
      return principalFromPayload(payload);
    },
  };
}

export function principalFromPayload(payload: JWTPayload): Principal {
  if (!isValidUserId(payload.sub) || typeof payload.exp !== 'number') throw new HeraldError('invalid_token');
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
