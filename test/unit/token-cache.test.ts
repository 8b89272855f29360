import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JWTVerifyGetKey } from 'jose';
import { createTokenVerifier, mintToken, VerifiedTokenCache, type TokenCacheOptions } from '../../src/auth/jwt.js';
import { loadVerificationKeys } from '../../src/auth/keys.js';
import type { Principal } from '../../src/auth/principal.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

function principal(sub: string, expS: number): Principal {
  return { sub, scopes: new Set(['publish']), groups: [], exp: expS };
}

/** A verifier over the real HS256 key whose key lookups (one per signature check) are counted. */
function countingVerifier(cache: Partial<TokenCacheOptions> | null = {}, clockToleranceS = 0) {
  const keys = loadVerificationKeys({ secret: SECRET, publicKey: null, jwks: null, jwksCacheMaxAgeS: 600, jwksCooldownS: 30 });
  const counter = { checks: 0 };
  const getKey: JWTVerifyGetKey = (header, token) => {
    counter.checks += 1;
    return keys.getKey(header, token);
  };
  const verifier = createTokenVerifier({ keys: { ...keys, getKey }, audience: null, issuer: null, clockToleranceS, cache });
  return { verifier, counter };
}

test('a verified token is answered from the cache the second time', async () => {
  const { verifier, counter } = countingVerifier();
  const token = await mintToken(SECRET, { sub: 'alice', scope: 'publish' });
  const first = await verifier.verify(token);
  const second = await verifier.verify(token);
  assert.equal(counter.checks, 1);
  assert.equal(second.sub, 'alice');
  assert.equal(second, first);
});

test('a token with a bad signature is refused every time and never cached', async () => {
  const { verifier, counter } = countingVerifier();
  const token = await mintToken('another-secret-of-enough-length-for-hs256', { sub: 'mallory', scope: 'publish' });
  await assert.rejects(verifier.verify(token), { code: 'invalid_token' });
  await assert.rejects(verifier.verify(token), { code: 'invalid_token' });
  assert.equal(counter.checks, 2);
});

test('a token accepted only through the clock tolerance (already past exp) is not cached', async () => {
  const { verifier, counter } = countingVerifier({}, 60);
  const token = await mintToken(SECRET, { sub: 'late', scope: 'publish', ttlS: -5 });
  await verifier.verify(token);
  await verifier.verify(token);
  assert.equal(counter.checks, 2);
});

test('with the cache off every request checks the signature', async () => {
  const { verifier, counter } = countingVerifier(null);
  const token = await mintToken(SECRET, { sub: 'bob', scope: 'publish' });
  await verifier.verify(token);
  await verifier.verify(token);
  assert.equal(counter.checks, 2);
});

test('once the cache clock reaches exp the token is checked again, not served from the cache', async () => {
  let now = Date.now();
  const { verifier, counter } = countingVerifier({ now: () => now, maxAgeMs: 24 * 3600_000 });
  const token = await mintToken(SECRET, { sub: 'carol', scope: 'publish', ttlS: 3600 });
  const { exp } = await verifier.verify(token);
  now = exp * 1000;
  await verifier.verify(token);
  assert.equal(counter.checks, 2);
});

test('a cache entry is served up to the millisecond before exp', () => {
  let now = 1_000_000;
  const cache = new VerifiedTokenCache({ now: () => now, maxAgeMs: 3600_000 });
  cache.set('t', principal('alice', 2000));
  now = 1_999_999;
  assert.equal(cache.get('t')?.sub, 'alice');
});

test('a cache entry is gone at exp', () => {
  let now = 1_000_000;
  const cache = new VerifiedTokenCache({ now: () => now, maxAgeMs: 3600_000 });
  cache.set('t', principal('alice', 2000));
  now = 2_000_000;
  assert.equal(cache.get('t'), null);
  assert.equal(cache.size, 0);
});

test('a cache entry is gone after maxAgeMs even when exp is far away', () => {
  let now = 1_000_000;
  const cache = new VerifiedTokenCache({ now: () => now, maxAgeMs: 500 });
  cache.set('t', principal('alice', 1_000_000));
  now = 1_000_500;
  assert.equal(cache.get('t'), null);
});

test('an already expired principal is not stored', () => {
  const cache = new VerifiedTokenCache({ now: () => 5_000_000 });
  cache.set('t', principal('alice', 5000));
  assert.equal(cache.size, 0);
});

test('the cache holds at most maxEntries and drops the oldest first', () => {
  const cache = new VerifiedTokenCache({ now: () => 0, maxEntries: 2 });
  cache.set('a', principal('a', 100));
  cache.set('b', principal('b', 100));
  cache.set('c', principal('c', 100));
  assert.equal(cache.size, 2);
  assert.equal(cache.get('a'), null);
  assert.equal(cache.get('b')?.sub, 'b');
  assert.equal(cache.get('c')?.sub, 'c');
});

test('a cache hit protects an entry from the next eviction', () => {
  const cache = new VerifiedTokenCache({ now: () => 0, maxEntries: 2 });
  cache.set('a', principal('a', 100));
  cache.set('b', principal('b', 100));
  cache.get('a');
  cache.set('c', principal('c', 100));
  assert.equal(cache.get('b'), null);
  assert.equal(cache.get('a')?.sub, 'a');
});

test('the HS256 secret is imported once as a WebCrypto HMAC key', async () => {
  const keys = loadVerificationKeys({ secret: SECRET, publicKey: null, jwks: null, jwksCacheMaxAgeS: 600, jwksCooldownS: 30 });
  const header = { alg: 'HS256' };
  const token = { payload: '', signature: '' };
  const first = await keys.getKey(header, token);
  const second = await keys.getKey(header, token);
  assert.equal(first, second);
  assert.ok(first instanceof CryptoKey);
  assert.equal(first.algorithm.name, 'HMAC');
});
