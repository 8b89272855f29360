// Fan-out between nodes over a RabbitMQ fanout exchange, one exclusive queue per node.
// Messages stay hints (see bus.ts): whatever the broker loses during a restart or a
// reconnect, the hub reads back from the store when onResync() tells it to.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AsyncMessage, Connection, Consumer, Publisher } from 'rabbitmq-client';
import type { Logger } from '../log.js';
import type { Bus, BusHandlers, BusMessage } from './bus.js';

export interface RabbitMqBusOptions {
  /** The fanout exchange every node binds its queue to. Default `herald.bus`. */
  exchange: string;
  log: Logger;
  /** Longest wait for the broker to take a hint before it is kept for the reconnect, ms. Default 1000. */
  sendTimeoutMs?: number;
  /** Most topics and users whose latest unsent hint is kept while disconnected. Default 10000. */
  maxPendingTopics?: number;
}

/** A node's name on the bus; its own messages are recognised by it and not handled twice. */
function nodeName(): string {
  return `${hostname()}.${process.pid}.${randomBytes(4).toString('hex')}`;
}

export class RabbitMqBus implements Bus {
  readonly nodeId = nodeName();
  readonly #exchange: string;
  readonly #log: Logger;
  readonly #sendTimeoutMs: number;
  readonly #maxPending: number;
  #handlers: BusHandlers | null = null;
  #consumer: Consumer | null = null;
  #publisher: Publisher | null = null;
  /** True between the consumer's (re)setup and the next connection loss. */
  #consuming = false;
  /** Latest hint per topic (and per user) that could not be sent: other nodes learn of it on reconnect. */
  readonly #pending = new Map<string, BusMessage>();
  readonly #onConnection = (): void => {
    this.#consuming = false;
  };

  readonly #connection: Connection;

  constructor(
    connection: Connection,
    options: RabbitMqBusOptions,
  ) {
    this.#connection = connection;
    this.#exchange = options.exchange;
    this.#log = options.log;
    this.#sendTimeoutMs = options.sendTimeoutMs ?? 1000;
    this.#maxPending = options.maxPendingTopics ?? 10_000;
  }

  async start(handlers: BusHandlers): Promise<void> {
    this.#handlers = handlers;
    const exchange = this.#exchange;
    const queue = `${exchange}.${this.nodeId}`;
    const declareExchange = { exchange, type: 'fanout', durable: true };
    this.#connection.on('connection', this.#onConnection);
    this.#publisher = this.#connection.createPublisher({ confirm: false, exchanges: [declareExchange] });
    this.#consumer = this.#connection.createConsumer({
      queue,
      // Exclusive and auto-deleted: the queue lives exactly as long as this node's connection.
      queueOptions: { exclusive: true, autoDelete: true, durable: false },
      exchanges: [declareExchange],
      queueBindings: [{ exchange, queue, routingKey: '' }],
      qos: { prefetchCount: 1000 },
      noAck: true,
    }, (message) => this.#receive(message));
    this.#consumer.on('ready', () => {
      this.#consuming = true;
      this.#log.info({ queue }, 'bus consumer ready');
      // Hints may have been lost while disconnected: catch up from the store.
      this.#handlers?.onResync();
      this.#flushPending();
    });
    this.#consumer.on('error', (err: unknown) => this.#log.warn({ err }, 'bus consumer error'));
  }

  async publish(message: BusMessage): Promise<void> {
    const handlers = this.#handlers;
    // This node's own streams hear it at once, broker or not.
    if (handlers) queueMicrotask(() => handlers.onMessage(message));
    if (!this.isReady()) {
      this.#keep(message);
      return;
    }
    await this.#send(message);
  }

  async #send(message: BusMessage): Promise<void> {
    const publisher = this.#publisher;
    if (!publisher) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#sendTimeoutMs);
    });
    const sent = publisher.send(
      { exchange: this.#exchange, routingKey: '', appId: this.nodeId, contentType: 'application/json', durable: false },
      Buffer.from(JSON.stringify(message)),
    ).then(() => 'sent' as const, (err: unknown) => {
      this.#log.debug({ err }, 'bus hint not sent');
      return 'failed' as const;
    });
    const outcome = await Promise.race([sent, timeout]);
    clearTimeout(timer);
    if (outcome !== 'sent') this.#keep(message);
  }

  /**
   * Keeps the newest hint per topic and per user while the broker is away, so other nodes
   * learn of new events and of inbox changes (and recount) once it is back.
   */
  #keep(message: BusMessage): void {
    // The recount every node makes after the broker is back covers a removal.
    if (message.kind === 'removed') return;
    // A change of preferences is kept beside the user's inbox change, not replaced by it.
    const key = message.kind === 'notification' ? `t:${message.event.topic}` : `${message.preferences ? 'p' : 'u'}:${message.user}`;
    const kept = this.#pending.get(key);
    if (message.kind === 'notification' && kept?.kind === 'notification' && kept.event.seq >= message.event.seq) return;
    this.#pending.delete(key);
    this.#pending.set(key, message);
    if (this.#pending.size > this.#maxPending) {
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
  }

  #flushPending(): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const message of pending) void this.#send(message);
  }

  #receive(message: AsyncMessage): void {
    if (message.appId === this.nodeId) return;
    const handlers = this.#handlers;
    if (!handlers) return;
    let parsed: BusMessage;
    try {
      parsed = (Buffer.isBuffer(message.body) ? JSON.parse(message.body.toString('utf8')) : message.body) as BusMessage;
    } catch (err) {
      this.#log.warn({ err }, 'ignoring a malformed bus message');
      return;
    }
    if (parsed?.kind === 'notification' || parsed?.kind === 'updated' || parsed?.kind === 'removed') handlers.onMessage(parsed);
  }

  isReady(): boolean {
    return this.#connection.ready && this.#consuming;
  }

  async close(): Promise<void> {
    this.#handlers = null;
    this.#connection.off('connection', this.#onConnection);
    await Promise.allSettled([this.#consumer?.close(), this.#publisher?.close()]);
  }
}
