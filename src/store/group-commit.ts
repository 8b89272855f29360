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

export interface GroupCommitLimits {
  /** Requests per transaction at most. */
  maxRequests: number;
  /** Rows per transaction at most (a request's weight); a heavier request still goes alone. */
  maxWeight: number;
}

interface Pending<Q, R> {
  request: Q;
  weight: number;
  resolve(value: R): void;
  reject(error: unknown): void;
}

export class GroupCommit<Q, R> {
  #queue: Pending<Q, R>[] = [];
  #draining: Promise<void> | null = null;
  #transactions = 0;

  readonly #writer: BatchWriter<Q, R>;
  readonly #limits: GroupCommitLimits;
  readonly #weigh: (request: Q) => number;

  constructor(
    writer: BatchWriter<Q, R>,
    limits: GroupCommitLimits,
    weigh: (request: Q) => number,
  ) {
    this.#writer = writer;
    this.#limits = limits;
    this.#weigh = weigh;
  }

  /** Transactions committed so far (a batch that had to be split counts each part). */
  get transactions(): number {
    return this.#transactions;
  }

  submit(request: Q): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ request, weight: this.#weigh(request), resolve, reject });
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
    let weight = 0;
    for (const item of this.#queue) {
      if (count > 0 && (count >= this.#limits.maxRequests || weight + item.weight > this.#limits.maxWeight)) break;
      count += 1;
      weight += item.weight;
    }
    return this.#queue.splice(0, count);
  }

  async #commit(batch: Pending<Q, R>[]): Promise<void> {
    let outcomes: Outcome<R>[];
    try {
      outcomes = await this.#writer.write(batch.map((item) => item.request));
    } catch (err) {
      // The database is away: every request would fail alone too, so don't retry each.
      if (batch.length === 1 || isUnreachable(err)) {
        for (const item of batch) item.reject(err);
        return;
      }
      // One request's data failed the whole transaction (nothing was written): write each
      // alone, so only that one fails. Rare, so its cost does not matter.
      for (const item of batch) await this.#commit([item]);
      return;
    }
    this.#transactions += 1;
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) item.resolve(outcome.value);
      else item.reject(outcome ? outcome.error : new Error('the batch writer answered too few outcomes'));
    });
  }
}
