/** Time as the hub and sessions see it; tests pass a clock they move themselves. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
