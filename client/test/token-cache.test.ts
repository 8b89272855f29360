import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cacheTokens } from '../src/token-cache.js';
import type { TokenProvider } from '../src/types.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';

const START = Date.UTC(2026, 0, 1);

/** An unsigned JWT-shaped string with these claims (the cache reads `exp` and `iat`, never verifies). */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.signature`;
}

/** A token source that mints a new token for each call, valid `lifetimeS` from the clock's now. */
function source(clock: ManualClock, lifetimeS: number | undefined) {
  const calls: string[] = [];
  const next = () => {
    const iat = Math.floor(clock.now() / 1000);
    const token = jwt(lifetimeS === undefined ? { sub: 'alice', n: calls.length } : { sub: 'alice', n: calls.length, iat, exp: iat + lifetimeS });
    calls.push(token);
    return token;
  };
  return { calls, next };
}

const ask = (provider: TokenProvider, reason: 'connect' | 'unauthorized' | 'expired' = 'connect') => Promise.resolve(provider({ reason }));

test('one token serves every connect and request until 30 s before its exp', async () => {
  const clock = new ManualClock(START);
  const tokens = source(clock, 600);
  const provider = cacheTokens(tokens.next, clock);
  const first = await ask(provider);
  clock.advance(569_000);
  assert.equal(await ask(provider), first, '31 s before exp the token is still used');
  assert.equal(tokens.calls.length, 1);
  clock.advance(2_000);
  assert.notEqual(await ask(provider), first, '29 s before exp a new one is asked for');
  assert.equal(tokens.calls.length, 2);
});

test('a short-lived token is replaced a quarter of its lifetime before exp', async () => {
  const clock = new ManualClock(START);
  const tokens = source(clock, 60);
  const provider = cacheTokens(tokens.next, clock);
  const first = await ask(provider);
  clock.advance(44_000);
  assert.equal(await ask(provider), first);
  clock.advance(2_000);
  assert.notEqual(await ask(provider), first);
});

test('a refused token is replaced at once, even when it has long to live', async () => {
  const clock = new ManualClock(START);
  const tokens = source(clock, 600);
  const provider = cacheTokens(tokens.next, clock);
  const first = await ask(provider);
  const second = await ask(provider, 'unauthorized');
  assert.notEqual(second, first);
  assert.equal(await ask(provider), second, 'the new token is the cached one from then on');
  assert.notEqual(await ask(provider, 'expired'), second);
  assert.equal(tokens.calls.length, 3);
});

test('calls made while a token is being fetched share that one fetch', async () => {
  const clock = new ManualClock(START);
  let calls = 0;
  let release: (token: string) => void = () => {};
  const provider = cacheTokens(() => {
    calls += 1;
    return new Promise<string>((resolve) => {
      release = resolve;
    });
  }, clock);
  const pending = [ask(provider), ask(provider), ask(provider)];
  release(jwt({ sub: 'alice' }));
  const answers = await Promise.all(pending);
  assert.equal(calls, 1);
  assert.equal(new Set(answers).size, 1);
});

test('a failed fetch rejects its callers and is not cached: the next call asks again', async () => {
  const clock = new ManualClock(START);
  let calls = 0;
  const provider = cacheTokens(() => {
    calls += 1;
    if (calls === 1) throw new Error('token endpoint answered 503');
    return jwt({ sub: 'alice' });
  }, clock);
  await assert.rejects(ask(provider), /503/);
  assert.equal(await ask(provider), jwt({ sub: 'alice' }));
  assert.equal(calls, 2);
});

test('a token without exp is kept until Herald refuses it', async () => {
  const clock = new ManualClock(START);
  const tokens = source(clock, undefined);
  const provider = cacheTokens(tokens.next, clock);
  const first = await ask(provider);
  clock.advance(30 * 86_400_000);
  assert.equal(await ask(provider), first);
  assert.notEqual(await ask(provider, 'unauthorized'), first);
});
