export interface BackoffOptions {
  /** Base delay of the first retry when the server gave no `retry:` hint. Default 500 ms. */
  minDelayMs?: number;
  /** Upper bound of any delay. Default 30000 ms. */
  maxDelayMs?: number;
  /** Uniform random number in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter (AWS "Exponential Backoff and Jitter"):
 * attempt n waits a uniform random time in [floor, min(max, base * 2^n)).
 *
 * The server's `retry:` hint is both the floor and the base: Herald already jitters it
 * per connection to spread a restart's reconnects, so the first retry waits exactly
 * the hint and later ones spread above it. Without a hint the floor is 0 (full jitter).
 */
export class Backoff {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly #random: () => number;
  #attempt = 0;
  #retryHintMs: number | undefined;

  constructor(options: BackoffOptions = {}) {
    this.minDelayMs = Math.max(0, options.minDelayMs ?? 500);
    this.maxDelayMs = Math.max(this.minDelayMs, options.maxDelayMs ?? 30_000);
    this.#random = options.random ?? Math.random;
  }

  get attempt(): number {
    return this.#attempt;
  }

  get retryHintMs(): number | undefined {
    return this.#retryHintMs;
  }

  /** Records the server's `retry:` value (already validated as all ASCII digits). */
  setRetryHint(ms: number): void {
    if (Number.isSafeInteger(ms) && ms >= 0) this.#retryHintMs = ms;
  }

  /** The delay before the next attempt; each call counts one failed attempt. */
  next(): number {
    const { low, high } = this.bounds(this.#attempt);
    this.#attempt += 1;
    return Math.floor(low + this.#random() * (high - low));
  }

  /** The range attempt `n` draws from, for inspection and tests. */
  bounds(n: number): { low: number; high: number } {
    const hint = this.#retryHintMs;
    const low = Math.min(this.maxDelayMs, hint ?? 0);
    const base = Math.max(this.minDelayMs, hint ?? 0);
    // 2^n overflows to Infinity past n≈1023; Math.min keeps it at the cap.
    const high = Math.max(low, Math.min(this.maxDelayMs, base * 2 ** Math.min(n, 64)));
    return { low, high };
  }

  /** Called once a connection stayed open for the stable period. */
  reset(): void {
    this.#attempt = 0;
  }
}

/**
 * Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
 * Returns milliseconds, or undefined when absent or malformed.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Only an HTTP-date (always GMT) counts: Date.parse also reads strings such as "-1" as years.
  if (!/GMT$/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
