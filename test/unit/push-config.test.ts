// Web Push configuration (README.md, "Web Push"): both VAPID keys or neither, never blank, a pair that
// belongs together, a subject push services accept; development mode's own pair.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, describeConfig, loadConfig } from '../../src/config.js';
import { devVapidPath, loadOrCreateDevVapidKeys } from '../../src/push/dev-vapid.js';
import { generateVapidKeys } from '../../src/push/vapid-keys.js';

const KEY = { HERALD_JWT_SECRET: 'x'.repeat(40) };
const PAIR = generateVapidKeys();
const PUSH = { ...KEY, HERALD_VAPID_PUBLIC_KEY: PAIR.publicKey, HERALD_VAPID_PRIVATE_KEY: PAIR.privateKey, HERALD_VAPID_SUBJECT: 'mailto:ops@example.com' };

function refused(env: Record<string, string>, message: RegExp): void {
  assert.throws(() => loadConfig(env), (err: Error) => err instanceof ConfigError && message.test(err.message), `refused with ${message}`);
}

test('push is off by default, with the defaults of the README', () => {
  const c = loadConfig(KEY);
  assert.equal(c.vapidPublicKey, null);
  assert.equal(c.vapidPrivateKey, null);
  assert.equal(c.pushDelayMs, 10000);
  assert.equal(c.pushTtlS, 86400);
  assert.deepEqual(c.pushAllowedOrigins, []);
});

test('a configured pair, subject and allowed origins are read', () => {
  const c = loadConfig({ ...PUSH, HERALD_PUSH_ALLOWED_ORIGINS: 'http://127.0.0.1:9000, https://push.internal.example' });
  assert.equal(c.vapidPublicKey, PAIR.publicKey);
  assert.equal(c.vapidSubject, 'mailto:ops@example.com');
  assert.deepEqual(c.pushAllowedOrigins, ['http://127.0.0.1:9000', 'https://push.internal.example']);
});

test('the public key without the private key stops the start naming the missing one', () => {
  refused({ ...KEY, HERALD_VAPID_PUBLIC_KEY: PAIR.publicKey, HERALD_VAPID_SUBJECT: 'mailto:a@b.c' }, /^HERALD_VAPID_PRIVATE_KEY is not set but its pair is/);
});

test('the private key without the public key stops the start naming the missing one', () => {
  refused({ ...KEY, HERALD_VAPID_PRIVATE_KEY: PAIR.privateKey, HERALD_VAPID_SUBJECT: 'mailto:a@b.c' }, /^HERALD_VAPID_PUBLIC_KEY is not set but its pair is/);
});

test('a blank VAPID key stops the start', () => {
  refused({ ...PUSH, HERALD_VAPID_PRIVATE_KEY: ' ' }, /^HERALD_VAPID_PRIVATE_KEY is set but empty/);
});

test('keys of two different pairs stop the start', () => {
  refused({ ...PUSH, HERALD_VAPID_PRIVATE_KEY: generateVapidKeys().privateKey }, /HERALD_VAPID_PUBLIC_KEY is not the public key of HERALD_VAPID_PRIVATE_KEY/);
});

test('a public key that is not a raw P-256 point stops the start', () => {
  refused({ ...PUSH, HERALD_VAPID_PUBLIC_KEY: 'AAAA' }, /HERALD_VAPID_PUBLIC_KEY must be a base64url raw P-256 public key/);
});

test('keys without a subject stop the start', () => {
  refused({ ...PUSH, HERALD_VAPID_SUBJECT: '' }, /HERALD_VAPID_SUBJECT is set but empty/);
  const { HERALD_VAPID_SUBJECT: _subject, ...withoutSubject } = PUSH;
  refused(withoutSubject, /^HERALD_VAPID_SUBJECT is required with the VAPID keys/);
});

test('a subject that is neither mailto: nor https: stops the start', () => {
  refused({ ...PUSH, HERALD_VAPID_SUBJECT: 'http://example.com' }, /HERALD_VAPID_SUBJECT must be a mailto: address or an https: URL/);
});

test('an allowed origin with a path is refused', () => {
  refused({ ...PUSH, HERALD_PUSH_ALLOWED_ORIGINS: 'http://127.0.0.1:9000/push' }, /HERALD_PUSH_ALLOWED_ORIGINS must be a comma-separated list of exact origins/);
});

test('the private key is masked when the config is printed', () => {
  assert.ok(!JSON.stringify(describeConfig(loadConfig(PUSH))).includes(PAIR.privateKey));
});

test('development mode keeps its VAPID pair beside the database, mode 0600, and reads the same pair again', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-dev-vapid-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const url = join(dir, 'herald.db');
  const first = loadOrCreateDevVapidKeys(url);
  assert.equal(devVapidPath(url), join(dir, 'herald-dev-vapid.json'));
  assert.equal(statSync(devVapidPath(url)).mode & 0o777, 0o600);
  assert.deepEqual(loadOrCreateDevVapidKeys(url), first);
  assert.deepEqual(JSON.parse(readFileSync(devVapidPath(url), 'utf8')), first);
});

test('a development VAPID file others can read is refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-dev-vapid-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const url = join(dir, 'herald.db');
  loadOrCreateDevVapidKeys(url);
  chmodSync(devVapidPath(url), 0o644);
  assert.throws(() => loadOrCreateDevVapidKeys(url), /is readable by others \(mode 0644\)/);
});
