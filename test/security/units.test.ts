// The pure pieces behind the hostile-input table: URL redaction, CIDR matching, key and
// origin validation at start.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadPublicKey, loadVerificationKeys } from '../../src/auth/keys.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { cidrMatcher } from '../../src/http/ip-allow-list.js';
import { redactUrl } from '../../src/log.js';

test('redactUrl masks credentials in query strings however they are spelled, and JWTs anywhere', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
  assert.equal(redactUrl(`/v1/stream?access_token=${jwt}&last_event_id=a.1.2`), '/v1/stream?access_token=[REDACTED]&last_event_id=a.1.2');
  assert.equal(redactUrl('/v1/stream?ticket=abc'), '/v1/stream?ticket=[REDACTED]');
  assert.equal(redactUrl('/v1/stream?access%5Ftoken=abc'), '/v1/stream?access%5Ftoken=[REDACTED]');
  assert.equal(redactUrl('/v1/stream?ACCESS_TOKEN=abc#frag'), '/v1/stream?ACCESS_TOKEN=[REDACTED]');
  assert.equal(redactUrl(`/v1/notifications/${jwt}`), '/v1/notifications/[REDACTED]');
  assert.equal(redactUrl('/v1/notifications?status=unread&limit=5'), '/v1/notifications?status=unread&limit=5');
  assert.equal(redactUrl('/v1/x?%E0%A4%A=1'), '/v1/x?%E0%A4%A=1');
});

test('cidrMatcher matches IPv4, IPv6 and IPv4-mapped IPv6 addresses', () => {
  const allowed = cidrMatcher(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
  assert.equal(allowed('10.255.0.1'), true);
  assert.equal(allowed('::ffff:10.1.2.3'), true);
  assert.equal(allowed('192.0.2.7'), true);
  assert.equal(allowed('192.0.2.8'), false);
  assert.equal(allowed('2001:db8::1'), true);
  assert.equal(allowed('2001:db9::1'), false);
  assert.equal(allowed('11.0.0.1'), false);
  assert.equal(allowed('not-an-ip'), false);
});

test('HERALD_CORS_ORIGINS accepts exact origins only', () => {
  assert.deepEqual(loadConfig({ HERALD_CORS_ORIGINS: 'https://app.example.com, http://localhost:3000', HERALD_JWT_SECRET: 'x'.repeat(40) }).corsOrigins, ['https://app.example.com', 'http://localhost:3000']);
  for (const bad of ['*', 'null', 'https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'file:///x']) {
    assert.throws(() => loadConfig({ HERALD_CORS_ORIGINS: bad, HERALD_JWT_SECRET: 'x'.repeat(40) }), /HERALD_CORS_ORIGINS must be/, bad);
  }
});

test('security settings have safe defaults and bounds', () => {
  const config = loadConfig({});
  assert.equal(config.jwtClockToleranceS, 30);
  assert.equal(config.ticketTtlS, 30);
  assert.equal(config.maxUrlBytes, 8192);
  assert.equal(config.maxHeaderBytes, 16384);
  assert.throws(() => loadConfig({ HERALD_JWT_CLOCK_TOLERANCE_S: '61' }), ConfigError);
  assert.throws(() => loadConfig({ HERALD_TICKET_SECRET: 'short' }), ConfigError);
  assert.throws(() => loadConfig({ HERALD_ALLOW_IPS: '10.0.0.0/33' }), ConfigError);
});

test('public keys: type decides the algorithm; weak or unreadable keys stop the start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-keys-'));
  try {
    const pem = (type: 'rsa' | 'ec' | 'ed25519', options: object) =>
      generateKeyPairSync(type as 'rsa', options as { modulusLength: number }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.deepEqual(loadPublicKey(pem('rsa', { modulusLength: 2048 })).algorithms, ['RS256']);
    assert.deepEqual(loadPublicKey(pem('ec', { namedCurve: 'P-256' })).algorithms, ['ES256']);
    assert.deepEqual(loadPublicKey(pem('ed25519', {})).algorithms, ['EdDSA', 'Ed25519']);
    // Inline with escaped newlines, as environment variables often carry it.
    assert.deepEqual(loadPublicKey(pem('ec', { namedCurve: 'P-384' }).replace(/\n/g, '\\n')).algorithms, ['ES384']);
    const file = join(dir, 'key.pem');
    writeFileSync(file, pem('ec', { namedCurve: 'P-256' }));
    assert.deepEqual(loadPublicKey(file).algorithms, ['ES256']);
    assert.throws(() => loadPublicKey(pem('rsa', { modulusLength: 1024 })), ConfigError);
    assert.throws(() => loadPublicKey(pem('ec', { namedCurve: 'secp256k1' })), ConfigError);
    assert.throws(() => loadPublicKey(join(dir, 'missing.pem')), ConfigError);
    assert.throws(() => loadPublicKey('-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----'), ConfigError);
    assert.throws(() => loadVerificationKeys({ secret: null, publicKey: null, jwks: join(dir, 'key.pem'), jwksCacheMaxAgeS: 1, jwksCooldownS: 1 }), ConfigError);
    assert.throws(() => loadVerificationKeys({ secret: null, publicKey: null, jwks: null, jwksCacheMaxAgeS: 1, jwksCooldownS: 1 }), ConfigError);
    const both = loadVerificationKeys({ secret: 's'.repeat(32), publicKey: file, jwks: null, jwksCacheMaxAgeS: 1, jwksCooldownS: 1 });
    assert.deepEqual(both.algorithms, ['HS256', 'ES256']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
