/** Time as every part of Herald reads it (hub, store, tokens, scheduler); tests pass a clock they move themselves. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * The clock, never going back: the wall clock may step back (an NTP correction, a VM
 * restored), and what expired by it must stay expired. The sweep told the streams once and
 * will not again; a notification live again would be counted until the clock passed it twice.
 */
export function neverBack(clock: Clock): Clock {
  let latest = -Infinity;
  return {
    now: () => {
      latest = Math.max(latest, clock.now());
      return latest;
    },
  };
}
