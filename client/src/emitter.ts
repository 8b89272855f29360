/** A minimal typed event emitter; a throwing listener never breaks the others. */
export class Emitter<M> {
  readonly #listeners = new Map<keyof M, Set<(event: never) => void>>();

  on<K extends keyof M>(name: K, listener: (event: M[K]) => void): () => void {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  emit<K extends keyof M>(name: K, event: M[K]): void {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (event: M[K]) => void)(event);
      } catch (err) {
        // A bug in application code must not stop the stream; surface it asynchronously.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
