// Group commit: publishes that arrive while a commit is running wait for it, then share
// the next transaction and its one fsync. Each caller still learns its own outcome only
// after that transaction has committed, so an accepted publish is as durable as before.
import { isUnreachable } from '../errors.js';

/** What one request of a batch came to: its answer, or an error for it alone. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface BatchWriter<Q, R> {
  /**
   * Writes the requests in one transaction and answers one outcome per request, in order,
   * once it has committed. Throws when the transaction as a whole failed (nothing written).
   */
  write(requests: readonly Q[]): Promise<Outcome<R>[]>;
  /** Releases what the writer holds (a thread, a connection); called once no write is pending. */
  close?(): Promise<void>;
  /** False while the writer cannot write (its thread is restarting); absent means always able. */
  readonly healthy?: boolean;
}

/**
 * What each stage of the group commit took, for the metrics: where a slow publish waited.
 * Times are seconds from a monotonic clock.
 */
export interface CommitObserver {
  /** A transaction was handed to the writer after its requests waited this long in the queue (one figure per submission). */
  started(waitedS: readonly number[]): void;
  /** A transaction of `requests` requests answered after `seconds`, committed or not. */
  finished(requests: number, seconds: number): void;
}

export interface GroupCommitLimits {
  /** Requests per transaction at most. */
  maxRequests: number;
  /** Rows per transaction at most (a request's weight); a heavier request still goes alone. */
  maxWeight: number;
}

/**
 * Requests that commit in the same transaction: one publish, or a batch publish's valid
 * items (never split between two transactions, however heavy).
 */
interface Pending<Q, R> {
  requests: readonly Q[];
  weight: number;
  /** When it was submitted (performance.now(), ms). */
  submittedAt: number;
  settle(outcomes: Outcome<R>[]): void;
  reject(error: unknown): void;
}

export class GroupCommit<Q, R> {
  #queue: Pending<Q, R>[] = [];
  #draining: Promise<void> | null = null;
  #transactions = 0;

  readonly #writer: BatchWriter<Q, R>;
  readonly #limits: GroupCommitLimits;
  readonly #weigh: (request: Q) => number;
  #observer: CommitObserver | null = null;

  constructor(
    writer: BatchWriter<Q, R>,
    limits: GroupCommitLimits,
    weigh: (request: Q) => number,
  ) {
    this.#writer = writer;
    this.#limits = limits;
    this.#weigh = weigh;
  }

  /** Reports each transaction's queue wait and duration from now on (the metrics). */
  observe(observer: CommitObserver): void {
    this.#observer = observer;
  }

  /** Transactions committed so far (a batch that had to be split counts each part). */
  get transactions(): number {
    return this.#transactions;
  }

  submit(request: Q): Promise<R> {
    return this.submitTogether([request]).then(([outcome]) => {
      if (outcome?.ok) return outcome.value;
      throw outcome ? outcome.error : new Error('the batch writer answered too few outcomes');
    });
  }

  /**
   * Requests written in one transaction (with others queued beside them), answered one
   * outcome each, in order, once it committed. Rejects when none could be written (the
   * database is away). Should one request's data fail the transaction, each is written
   * alone instead, so only that one fails.
   */
  submitTogether(requests: readonly Q[]): Promise<Outcome<R>[]> {
    if (requests.length === 0) return Promise.resolve([]);
    return new Promise<Outcome<R>[]>((settle, reject) => {
      let weight = 0;
      for (const request of requests) weight += this.#weigh(request);
      this.#queue.push({ requests, weight, submittedAt: performance.now(), settle, reject });
      // Busy: the running loop takes it next. Idle: commit at the end of this turn of the
      // event loop, with whatever else arrived in it (no timer).
      this.#draining ??= this.#drain();
    });
  }

  /** Resolves once every submitted request has its answer. */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    // Requests read in the same turn of the event loop (their token checks finish there too)
    // share one transaction: each would otherwise wait for a commit (an fsync) of its own.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#queue.length > 0) await this.#commit(this.#takeBatch());
    } finally {
      this.#draining = null;
    }
  }

  #takeBatch(): Pending<Q, R>[] {
    let count = 0;
    let requests = 0;
    let weight = 0;
    for (const item of this.#queue) {
      if (count > 0 && (requests + item.requests.length > this.#limits.maxRequests || weight + item.weight > this.#limits.maxWeight)) break;
      count += 1;
      requests += item.requests.length;
      weight += item.weight;
    }
    return this.#queue.splice(0, count);
  }

  async #commit(batch: Pending<Q, R>[]): Promise<void> {
    let outcomes: Outcome<R>[];
    const requests = batch.flatMap((item) => item.requests);
    const startedAt = performance.now();
    this.#observer?.started(batch.map((item) => (startedAt - item.submittedAt) / 1000));
    try {
      outcomes = await this.#writer.write(requests);
    } catch (err) {
      this.#observer?.finished(requests.length, (performance.now() - startedAt) / 1000);
      // The database is away: every request would fail alone too, so don't retry each.
      if (isUnreachable(err) || (batch.length === 1 && (batch[0] as Pending<Q, R>).requests.length === 1)) {
        for (const item of batch) item.reject(err);
        return;
      }
      // One request's data failed the whole transaction (nothing was written): write each
      // alone, so only that one fails. Rare, so its cost does not matter.
      for (const item of batch) item.settle(await this.#eachAlone(item.requests));
      return;
    }
    this.#observer?.finished(requests.length, (performance.now() - startedAt) / 1000);
    this.#transactions += 1;
    let at = 0;
    for (const item of batch) {
      item.settle(item.requests.map((): Outcome<R> => outcomes[at++] ?? { ok: false, error: new Error('the batch writer answered too few outcomes') }));
    }
  }

  /** Each request in a transaction of its own, so a failure is that request's alone. */
  async #eachAlone(requests: readonly Q[]): Promise<Outcome<R>[]> {
    const outcomes: Outcome<R>[] = [];
    for (const request of requests) {
      outcomes.push(await new Promise<Outcome<R>>((resolve) => {
        void this.#commit([{ requests: [request], weight: this.#weigh(request), submittedAt: performance.now(), settle: ([o]) => resolve(o as Outcome<R>), reject: (error) => resolve({ ok: false, error }) }]);
      }));
    }
    return outcomes;
  }
}
