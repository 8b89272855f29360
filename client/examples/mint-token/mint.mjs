// A Herald token, minted in your backend for the signed-in user: HS256 with Herald's secret.
//   HERALD_JWT_SECRET=... node client/examples/mint-token/mint.mjs alice
import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';

const base64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function heraldToken(userId, secret = process.env.HERALD_JWT_SECRET, ttlSeconds = 600) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: userId, scope: 'subscribe', iat: now, exp: now + ttlSeconds };
  const unsigned = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

if (process.argv[1] === import.meta.filename) console.log(heraldToken(process.argv[2]));
