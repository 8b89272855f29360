// Verification keys, from configuration only: an HS256 secret, one PEM public key (inline or
// a file), a JWKS (URL or file). Each key kind fixes the algorithms it may verify, so a token
// can never choose how it is checked (no HS256 signed with a public key, no `alg: none`).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../config.js';

/** Asymmetric algorithms a JWKS may serve keys for; symmetric (`oct`) keys never match. */
export const JWKS_ALGORITHMS = ['RS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'] as const;

export interface KeySettings {
  secret: string | null;
  /** PEM text, or a path to a PEM file. */
  publicKey: string | null;
  /** http(s) URL, or a path to a JWKS JSON file. */
  jwks: string | null;
  jwksCacheMaxAgeS: number;
  jwksCooldownS: number;
}

export interface VerificationKeys {
  /** Every algorithm some configured key accepts: the `algorithms` pin. */
  algorithms: string[];
  /** The key for a token header, chosen by its (already pinned) `alg` and `kid`. */
  getKey: JWTVerifyGetKey;
}

const PEM = /-----BEGIN [A-Z ]+-----/;

/** The configured public key and the algorithms its type allows. */
export function loadPublicKey(value: string): { key: KeyObject; algorithms: string[] } {
  let pem = value.replace(/\\n/g, '\n');
  if (!PEM.test(pem)) {
    try {
      pem = readFileSync(value, 'utf8');
    } catch (err) {
      throw new ConfigError(`HERALD_JWT_PUBLIC_KEY is neither PEM text nor a readable file (${(err as Error).message})`);
    }
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new ConfigError('HERALD_JWT_PUBLIC_KEY is not a valid PEM public key (SPKI "BEGIN PUBLIC KEY" or an X.509 certificate)');
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new ConfigError('HERALD_JWT_PUBLIC_KEY: RSA keys must have at least 2048 bits');
      return { key, algorithms: ['RS256'] };
    case 'ec':
      if (curve === 'prime256v1') return { key, algorithms: ['ES256'] };
      if (curve === 'secp384r1') return { key, algorithms: ['ES384'] };
      throw new ConfigError(`HERALD_JWT_PUBLIC_KEY: EC keys must be on P-256 (ES256) or P-384 (ES384), not ${curve ?? 'unknown'}`);
    case 'ed25519':
      return { key, algorithms: ['EdDSA', 'Ed25519'] };
    default:
      throw new ConfigError(`HERALD_JWT_PUBLIC_KEY: unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use RSA, EC P-256/P-384 or Ed25519)`);
  }
}

function loadJwks(value: string, settings: KeySettings): JWTVerifyGetKey {
  if (/^https?:\/\//i.test(value)) {
    // jose caches the set, refetches it when a `kid` is unknown (key rotation) at most once
    // per cooldown, and follows no URL a token names (`jku`, `x5u` are never read).
    return createRemoteJWKSet(new URL(value), {
      cacheMaxAge: settings.jwksCacheMaxAgeS * 1000,
      cooldownDuration: settings.jwksCooldownS * 1000,
      timeoutDuration: 5000,
    });
  }
  const path = value.startsWith('file://') ? new URL(value) : value;
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(readFileSync(path, 'utf8')) as JSONWebKeySet;
  } catch (err) {
    throw new ConfigError(`HERALD_JWKS_URL is neither an http(s) URL nor a readable JWKS JSON file (${(err as Error).message})`);
  }
  if (!Array.isArray(jwks.keys)) throw new ConfigError('HERALD_JWKS_URL: the file is not a JWKS ({"keys": [...]})');
  return createLocalJWKSet(jwks);
}

/**
 * The HS256 secret as a WebCrypto key, imported once: jose imports raw secret bytes again on
 * every verification, which was a tenth of a publish's CPU. Rejections surface per call.
 */
function hmacVerifyKey(secret: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const key = crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  key.catch(() => undefined);
  return key;
}

export function loadVerificationKeys(settings: KeySettings): VerificationKeys {
  const secret = settings.secret === null ? null : hmacVerifyKey(new TextEncoder().encode(settings.secret));
  const publicKey = settings.publicKey === null ? null : loadPublicKey(settings.publicKey);
  const jwks = settings.jwks === null ? null : loadJwks(settings.jwks, settings);
  if (!secret && !publicKey && !jwks) throw new ConfigError('Set HERALD_JWT_SECRET, HERALD_JWT_PUBLIC_KEY or HERALD_JWKS_URL');
  const algorithms = [...new Set([
    ...(secret ? ['HS256'] : []),
    ...(publicKey ? publicKey.algorithms : []),
    ...(jwks ? JWKS_ALGORITHMS : []),
  ])];
  // A PEM key stays a KeyObject: jose converts it to a CryptoKey once and keeps that in a
  // WeakMap per key object, so it is not imported per verification either.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    // jose has already refused any `alg` outside `algorithms`; route each to its key kind.
    if (header.alg === 'HS256' && secret) return secret;
    const jwksFits = jwks !== null && (JWKS_ALGORITHMS as readonly string[]).includes(header.alg);
    // With both a PEM key and a JWKS, a token naming a `kid` is checked against the set.
    if (publicKey && publicKey.algorithms.includes(header.alg) && !(jwksFits && header.kid !== undefined)) return publicKey.key;
    if (jwks && jwksFits) return jwks(header, token);
    throw new Error('no key for this algorithm');
  };
  return { algorithms, getKey };
}
