// The bus between the workers of one node in embedded mode: a message is handed to this
// worker's own handlers (as MemoryBus does) and to the primary, which passes it to every
// other worker. The IPC channel is ordered and loses nothing while both ends live; a worker
// that dies is started again and reads where its streams stand from the store.
import type { Bus, BusHandlers, BusMessage } from '../bus/bus.js';
import type { PrimaryChannel } from './channel.js';

export class ClusterBus implements Bus {
  readonly lossless = true;
  readonly #channel: PrimaryChannel;
  #handlers: BusHandlers | null = null;

  constructor(channel: PrimaryChannel) {
    this.#channel = channel;
    channel.on('herald:bus', (message) => this.#handlers?.onMessage(message.message));
  }

  async start(handlers: BusHandlers): Promise<void> {
    this.#handlers = handlers;
  }

  async publish(message: BusMessage): Promise<void> {
    const handlers = this.#handlers;
    if (handlers) queueMicrotask(() => handlers.onMessage(message));
    this.#channel.send({ t: 'herald:bus', message });
  }

  isReady(): boolean {
    return this.#channel.connected;
  }

  async close(): Promise<void> {
    this.#handlers = null;
  }
}
