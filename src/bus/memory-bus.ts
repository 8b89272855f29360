import type { Bus, BusHandlers, BusMessage } from './bus.js';

/** The embedded bus: one process, so delivery is a microtask away and never lost. */
export class MemoryBus implements Bus {
  readonly lossless = true;
  #handlers: BusHandlers | null = null;

  async start(handlers: BusHandlers): Promise<void> {
    this.#handlers = handlers;
  }

  async publish(message: BusMessage): Promise<void> {
    const handlers = this.#handlers;
    if (handlers) queueMicrotask(() => handlers.onMessage(message));
  }

  isReady(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.#handlers = null;
  }
}
