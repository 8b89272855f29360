// A worker's end of the IPC channel to its primary: one listener dispatching by tag, and
// requests answered by id.
import type { ToPrimary, ToWorker } from './messages.js';
import { isHeraldMessage } from './messages.js';

type Handler<T extends ToWorker['t']> = (message: Extract<ToWorker, { t: T }>) => void;

export class PrimaryChannel {
  readonly #handlers = new Map<string, (message: ToWorker) => void>();

  constructor() {
    process.on('message', (message: unknown) => {
      if (!isHeraldMessage(message)) return;
      this.#handlers.get(message.t)?.(message as ToWorker);
    });
  }

  /** False once the primary is gone. */
  get connected(): boolean {
    return process.connected;
  }

  on<T extends ToWorker['t']>(t: T, handler: Handler<T>): void {
    this.#handlers.set(t, handler as (message: ToWorker) => void);
  }

  /** Sends if the channel is still open (a worker whose primary died is about to exit). */
  send(message: ToPrimary): void {
    if (process.connected) process.send?.(message);
  }
}

/** Requests of one kind answered by id; all fail at once if the primary goes away. */
export class Requests<A> {
  #next = 0;
  readonly #pending = new Map<number, { resolve(answer: A): void; reject(err: Error): void }>();

  constructor(onDisconnect: () => Error) {
    process.once('disconnect', () => {
      const err = onDisconnect();
      for (const pending of this.#pending.values()) pending.reject(err);
      this.#pending.clear();
    });
  }

  /** Sends what `make` builds with a fresh id; settles on `answered(id, …)`. */
  ask(make: (id: number) => void): Promise<A> {
    return new Promise((resolve, reject) => {
      const id = this.#next++;
      this.#pending.set(id, { resolve, reject });
      make(id);
    });
  }

  answered(id: number, answer: A): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.resolve(answer);
  }
}
