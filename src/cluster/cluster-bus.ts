// The bus between the workers of one node in embedded mode: a message is handed to this
// worker's own handlers (as MemoryBus does) and to the primary, which passes it to every
// other worker. The IPC channel is ordered and loses nothing while both ends live; a worker
// that dies is started again and reads where its streams stand from the store.
//
// Messages published in one turn of the loop (a commit's hints come together) cross the
// channel as one IPC message: each message costs a serialization and a pipe write at both
// hops, a good part of the primary's work at thousands of publishes a second.
import type { Bus, BusHandlers, BusMessage } from '../bus/bus.js';
import type { PrimaryChannel } from './channel.js';

export class ClusterBus implements Bus {
  readonly lossless = true;
  readonly #channel: PrimaryChannel;
  #handlers: BusHandlers | null = null;
  /** Published in this turn, not yet sent to the primary. */
  #outgoing: BusMessage[] = [];

  constructor(channel: PrimaryChannel) {
    this.#channel = channel;
    channel.on('herald:bus', ({ messages }) => {
      for (const message of messages) this.#handlers?.onMessage(message);
    });
  }

  async start(handlers: BusHandlers): Promise<void> {
    this.#handlers = handlers;
  }

  async publish(message: BusMessage): Promise<void> {
    const handlers = this.#handlers;
    if (handlers) queueMicrotask(() => handlers.onMessage(message));
    this.#outgoing.push(message);
    if (this.#outgoing.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const messages = this.#outgoing;
    this.#outgoing = [];
    this.#channel.send({ t: 'herald:bus', messages });
  }

  isReady(): boolean {
    return this.#channel.connected;
  }

  async close(): Promise<void> {
    this.#handlers = null;
  }
}
