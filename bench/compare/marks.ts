// What the load generator puts in each payload and reads back: `@@<step>.<sent µs>@@`. The
// time is process.hrtime's (one monotonic clock for the publisher on the main thread and the
// readers on worker threads), so latency is publish-to-arrival without clock skew. Every
// peer passes the mark through untouched: nchan sends the body as is, better-sse and Herald
// put it inside a JSON string, where none of its characters needs escaping.

export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export const mark = (step: number): string => `@@${step}.${nowUs()}@@`;

/** Latencies in a log-spaced histogram: 1% wide buckets from 1 µs to beyond 60 s, fixed size. */
const PER_E = 1 / Math.log(1.01);
export const BUCKETS = 2048;

export function bucketOf(us: number): number {
  return us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(us) * PER_E));
}

/** Upper edge of a bucket, in ms. */
const bucketMs = (i: number) => Math.exp((i + 1) / PER_E) / 1000;

export interface StepCounts {
  delivered: number;
  maxUs: number;
  hist: Uint32Array;
}

export const newStepCounts = (): StepCounts => ({ delivered: 0, maxUs: 0, hist: new Uint32Array(BUCKETS) });

export function mergeInto(into: StepCounts, from: StepCounts): void {
  into.delivered += from.delivered;
  into.maxUs = Math.max(into.maxUs, from.maxUs);
  for (let i = 0; i < BUCKETS; i++) into.hist[i] = (into.hist[i] as number) + (from.hist[i] as number);
}

export function percentiles(c: StepCounts): { p50: number; p90: number; p99: number; max: number } {
  const total = c.hist.reduce((a, b) => a + b, 0);
  const at = (p: number) => {
    if (total === 0) return NaN;
    const want = Math.ceil((p / 100) * total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += c.hist[i] as number;
      if (seen >= want) return Math.min(bucketMs(i), c.maxUs / 1000);
    }
    return c.maxUs / 1000;
  };
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(c.maxUs / 1000) };
}

/**
 * Finds the marks in a stream's text and counts them per step. Returns the unfinished tail
 * (a mark cut by a read boundary) for the caller to put before the next read.
 */
export function scanMarks(text: string, counts: Map<number, StepCounts>, arrivedUs: number): string {
  let at = 0;
  for (;;) {
    const start = text.indexOf('@@', at);
    if (start < 0) return text.endsWith('@') ? '@' : '';
    const end = text.indexOf('@@', start + 2);
    if (end < 0) return text.length - start > 40 ? '' : text.slice(start);
    const dot = text.indexOf('.', start);
    if (dot > start && dot < end) {
      const step = Number(text.slice(start + 2, dot));
      const sent = Number(text.slice(dot + 1, end));
      if (Number.isInteger(step) && Number.isFinite(sent)) {
        let c = counts.get(step);
        if (!c) { c = newStepCounts(); counts.set(step, c); }
        const us = Math.max(0, arrivedUs - sent);
        c.delivered++;
        if (us > c.maxUs) c.maxUs = us;
        const b = bucketOf(us);
        c.hist[b] = (c.hist[b] as number) + 1;
      }
      at = end + 2;
    } else {
      // `@@` that is not a mark's start: skip one character and look again.
      at = start + 1;
    }
  }
}
