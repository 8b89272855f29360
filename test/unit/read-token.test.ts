// A push's read_token (README.md, "Web Push"): good for marking one notification of one user read,
// until it expires; never an access token, and no access token is one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mintToken } from '../../src/auth/jwt.js';
import { HeraldError } from '../../src/errors.js';
import { ReadTokens } from '../../src/push/read-token.js';
import { generateVapidKeys } from '../../src/push/vapid-keys.js';

const KEYS = generateVapidKeys();

test('a read token names its user and notification', async () => {
  const tokens = new ReadTokens(KEYS.privateKey);
  const token = await tokens.mint({ user: 'alice', notificationId: 'n1' }, Date.now() + 60_000);
  assert.deepEqual(await tokens.verify(token), { user: 'alice', notificationId: 'n1' });
});

test('a read token is refused after it expires', async () => {
  let now = Date.now();
  const tokens = new ReadTokens(KEYS.privateKey, () => now);
  const token = await tokens.mint({ user: 'alice', notificationId: 'n1' }, now + 60_000);
  now += 61_000;
  await assert.rejects(tokens.verify(token), (err: HeraldError) => err.code === 'invalid_token');
});

test('a read token with its notification changed is refused', async () => {
  const tokens = new ReadTokens(KEYS.privateKey);
  const token = await tokens.mint({ user: 'alice', notificationId: 'n1' }, Date.now() + 60_000);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), nid: 'n2' })).toString('base64url');
  await assert.rejects(tokens.verify(`${header}.${altered}.${signature}`), (err: HeraldError) => err.code === 'invalid_token');
});

test('a read token of another deployment (another VAPID key) is refused', async () => {
  const token = await new ReadTokens(generateVapidKeys().privateKey).mint({ user: 'alice', notificationId: 'n1' }, Date.now() + 60_000);
  await assert.rejects(new ReadTokens(KEYS.privateKey).verify(token), (err: HeraldError) => err.code === 'invalid_token');
});

test('an access token is not a read token, even signed with the same bytes', async () => {
  const secret = Buffer.from(KEYS.privateKey, 'base64url').toString('latin1').padEnd(32, 'x');
  const access = await mintToken(secret, { sub: 'alice', scope: 'subscribe', ttlS: 60 });
  await assert.rejects(new ReadTokens(KEYS.privateKey).verify(access), (err: HeraldError) => err.code === 'invalid_token');
});
