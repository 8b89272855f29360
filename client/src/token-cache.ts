import { systemClock, type Clock, type TokenProvider } from './types.js';

/** A cached token is replaced this long before its `exp` (at most), so no request carries a dying one. */
const EXPIRY_MARGIN_MS = 30_000;

/** An application's way to get the user's Herald JWT, e.g. from its own backend. */
export type TokenSource = () => Promise<string> | string;

/**
 * Wraps an application's token function for `createHeraldClient`: one JWT is reused by the
 * stream and every inbox request until shortly before its `exp` (a quarter of its lifetime
 * at most 30 s), calls made while one is being fetched share that fetch, and a refusal
 * (`unauthorized`, `expired`) always fetches a new one. Without this, every inbox action
 * would first ask the application's backend for a token.
 */
export function cacheTokens(source: TokenSource, clock: Clock = systemClock): TokenProvider {
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;
  return ({ reason }) => {
    if (reason === 'connect' && cached && cached.expiresAt > clock.now()) return cached.token;
    if (reason !== 'connect') cached = undefined;
    if (!pending) {
      const fetching = (async () => {
        const token = await source();
        cached = { token, expiresAt: expiryOf(token) };
        return token;
      })();
      pending = fetching;
      // Cleared once settled (a source that throws at once included): the next call asks again.
      const clear = () => {
        if (pending === fetching) pending = undefined;
      };
      fetching.then(clear, clear);
    }
    return pending;
  };
}

function expiryOf(token: string): number {
  const { exp, iat } = claimsOf(token);
  if (typeof exp !== 'number') return Infinity;
  // Short-lived tokens get a proportionally shorter margin, so they are still used.
  const lifetimeMs = typeof iat === 'number' ? (exp - iat) * 1000 : EXPIRY_MARGIN_MS * 4;
  return exp * 1000 - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 4);
}

function claimsOf(token: string): { exp?: unknown; iat?: unknown } {
  try {
    const part = token.split('.')[1] ?? '';
    return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown; iat?: unknown };
  } catch {
    return {};
  }
}
