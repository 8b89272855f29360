// The one test clock: time moves only when the test says so. For code that reads a clock
// (the hub, the store's expiry and snooze, the scheduler) and for code that also takes its
// timers by injection (the client SDK's `clock` option): a timer fires during advance(), in
// due order, never on its own; pending() shows what is scheduled, so a test can tell
// "nothing will happen later" without waiting to see.
export class ManualClock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Delays from now of the timers still pending, soonest first. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = target;
  }

  /** Sets the time, back or forth, firing nothing: a wall clock stepped (an NTP correction). */
  set(ms: number): void {
    this.#now = ms;
  }

  /** Fires the soonest pending timer due within `withinMs`, moving time to it; false when there is none. */
  fireNext(withinMs = Infinity): boolean {
    const [next] = this.pending();
    if (next === undefined || next > withinMs) return false;
    this.advance(next);
    return true;
  }
}
