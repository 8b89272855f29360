// Queue ingest: applications publish the POST /v1/notifications body as a persistent
// message to the durable exchange `herald.ingest` (routing key `notification`). A message
// is acked only after its notifications are committed (at-least-once in, exactly-once
// stored through the idempotency key); a malformed one goes to the dead-letter queue with
// the reason in the `x-herald-error` header.
import { setTimeout as wait } from 'node:timers/promises';
import type { AsyncMessage, Connection, Consumer, Publisher } from 'rabbitmq-client';
import { HeraldError, isUnreachable } from '../errors.js';
import type { Logger } from '../log.js';
import type { PublishRequest } from '../store/store.js';
import { toPublishRequest, type PublishLimits } from './publish-request.js';
import type { NotificationPublisher } from './publisher.js';

export interface AmqpIngestOptions {
  /** Durable direct exchange applications publish to. Default `herald.ingest`. */
  exchange: string;
  /** Durable quorum queue bound to the exchange with routing key `notification`. Default `herald.ingest`. */
  queue: string;
  /** Dead-letter exchange and queue (same name). Default `herald.ingest.dlq`. */
  deadLetterQueue: string;
  /** Unacked messages a node holds at once (and handles concurrently). Default 64. */
  prefetch: number;
  limits: PublishLimits;
  log: Logger;
  /** First wait before retrying a commit while the database is unreachable, ms. Default 250. */
  retryDelayMs?: number;
  /** Longest wait between two retries of a commit while the database is unreachable, ms. Default 5000. */
  maxRetryDelayMs?: number;
  /**
   * Deliveries of one message before the broker dead-letters it (the quorum queue's
   * `x-delivery-limit`). Default 20. Only crashes and unexpected errors redeliver: an
   * unreachable database never does, so a valid message is not dead-lettered by an outage.
   */
  deliveryLimit?: number;
}

export const INGEST_ROUTING_KEY = 'notification';
/** Header naming why a message was dead-lettered. */
export const ERROR_HEADER = 'x-herald-error';
/** Unexpected failures of one message before it is dead-lettered instead of retried. */
const MAX_UNEXPECTED_FAILURES = 5;

class Malformed extends Error {}

/**
 * The name a queue publisher's keys and scheduled notifications are kept under. HTTP
 * publishers are kept under their token's `sub`, which never holds a space: the prefix
 * keeps a token whose `sub` equals a queue publisher's name from replaying its idempotency
 * keys or cancelling its scheduled notifications.
 */
export function queuePublisher(name: string): string {
  return `queue ${name}`;
}

export class AmqpIngest {
  #consumer: Consumer | null = null;
  #deadLetters: Publisher | null = null;
  #closing = false;
  readonly #abort = new AbortController();

  readonly #connection: Connection;
  readonly #publisher: NotificationPublisher;
  readonly #options: AmqpIngestOptions;

  constructor(
    connection: Connection,
    publisher: NotificationPublisher,
    options: AmqpIngestOptions,
  ) {
    this.#connection = connection;
    this.#publisher = publisher;
    this.#options = options;
  }

  /** Declares the topology (again on every reconnect) and starts consuming; never waits for the broker. */
  start(): void {
    const { exchange, queue, deadLetterQueue: dlq, prefetch } = this.#options;
    const deadLetterTopology = {
      exchanges: [{ exchange: dlq, type: 'fanout', durable: true }],
      queues: [{ queue: dlq, durable: true, arguments: { 'x-queue-type': 'quorum' as const } }],
      queueBindings: [{ exchange: dlq, queue: dlq, routingKey: '' }],
    };
    this.#deadLetters = this.#connection.createPublisher({ confirm: true, ...deadLetterTopology });
    this.#consumer = this.#connection.createConsumer({
      queue,
      queueOptions: {
        durable: true,
        // A quorum queue replicates and survives broker restarts; rejected messages and any
        // that pass a broker-side delivery limit go to the dead-letter exchange, never dropped.
        arguments: { 'x-queue-type': 'quorum' as const, 'x-dead-letter-exchange': dlq, 'x-delivery-limit': this.#options.deliveryLimit ?? 20 },
      },
      exchanges: [{ exchange, type: 'direct', durable: true }, ...deadLetterTopology.exchanges],
      queueBindings: [{ exchange, queue, routingKey: INGEST_ROUTING_KEY }],
      qos: { prefetchCount: prefetch },
      concurrency: prefetch,
      requeue: true,
    }, (message) => this.#handle(message));
    this.#consumer.on('ready', () => {
      this.#options.log.info({ queue }, 'ingest consumer ready');
      // The dead-letter queue must exist before the first rejection, not at the first publish to it.
      void (async () => {
        await this.#connection.queueDeclare(deadLetterTopology.queues[0] as { queue: string });
        await this.#connection.queueBind(deadLetterTopology.queueBindings[0] as { exchange: string; queue: string; routingKey: string });
      })().catch((err: unknown) => this.#options.log.warn({ err }, 'could not declare the dead-letter queue'));
    });
    this.#consumer.on('error', (err: unknown) => this.#options.log.warn({ err }, 'ingest consumer error'));
  }

  /** Resolves to ack; throws to requeue. */
  async #handle(message: AsyncMessage): Promise<void> {
    let request: PublishRequest;
    try {
      request = this.#toRequest(message);
    } catch (err) {
      await this.#deadLetter(message, err instanceof Error ? err.message : String(err));
      return;
    }
    let delay = this.#options.retryDelayMs ?? 250;
    for (;;) {
      try {
        await this.#publisher.publish(request, 'amqp');
        return;
      } catch (err) {
        if (err instanceof HeraldError && err.status < 500) {
          await this.#deadLetter(message, `${err.code}: ${err.message}`);
          return;
        }
        if (!isUnreachable(err)) {
          // Not the database being away: a few attempts, then out of the queue for a person to look at.
          const deliveries = Number(message.headers?.['x-delivery-count'] ?? 0) + 1;
          if (deliveries >= MAX_UNEXPECTED_FAILURES) {
            await this.#deadLetter(message, `failed ${deliveries} times: ${err instanceof Error ? err.message : String(err)}`);
            return;
          }
          this.#options.log.error({ err, messageId: message.messageId }, 'ingest failed; requeueing');
          throw err;
        }
        // Shutting down: back to the queue for another node (one delivery counted).
        if (this.#closing) throw err;
        this.#options.log.warn({ err: String(err), retryInMs: delay }, 'database unreachable; retrying the ingest commit');
        // The message stays with this node until the database answers, however long that
        // takes: a requeue would count a delivery each time and, past the queue's delivery
        // limit, the broker would dead-letter a valid message. Prefetch bounds what is held.
        await sleep(delay, this.#abort.signal);
        delay = Math.min(delay * 2, this.#options.maxRetryDelayMs ?? 5000);
      }
    }
  }

  #toRequest(message: AsyncMessage): PublishRequest {
    let body: unknown = message.body;
    if (Buffer.isBuffer(body) || typeof body === 'string') {
      try {
        body = JSON.parse(body.toString());
      } catch {
        throw new Malformed('invalid_request: the message body is not valid JSON.');
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new Malformed('invalid_request: the message body must be a JSON object.');
    }
    const fields = body as Record<string, unknown>;
    const name = typeof fields.publisher === 'string' ? fields.publisher : (message.appId || 'amqp');
    const publisher = queuePublisher(name);
    // A redelivery of the same message (the ack was lost) stores nothing new.
    const withKey = fields.idempotency_key === undefined && message.messageId ? { ...fields, idempotency_key: message.messageId } : fields;
    try {
      return toPublishRequest(withKey, publisher, this.#options.limits);
    } catch (err) {
      if (err instanceof HeraldError) throw new Malformed(`${err.code}: ${err.message}`);
      throw err;
    }
  }

  /** Copies the message to the dead-letter queue with the reason (confirmed) before it is acked. */
  async #deadLetter(message: AsyncMessage, reason: string): Promise<void> {
    this.#options.log.warn({ reason, messageId: message.messageId, appId: message.appId }, 'ingest message dead-lettered');
    const body = Buffer.isBuffer(message.body) ? message.body
      : typeof message.body === 'string' ? Buffer.from(message.body) : Buffer.from(JSON.stringify(message.body));
    await this.#deadLetters?.send({
      exchange: this.#options.deadLetterQueue,
      routingKey: message.routingKey,
      durable: true,
      contentType: message.contentType,
      contentEncoding: message.contentEncoding,
      messageId: message.messageId,
      appId: message.appId,
      timestamp: message.timestamp,
      headers: { ...message.headers, [ERROR_HEADER]: reason.slice(0, 1000), 'x-herald-original-exchange': message.exchange },
    }, body);
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#abort.abort();
    await Promise.allSettled([this.#consumer?.close()]);
    await Promise.allSettled([this.#deadLetters?.close()]);
  }
}

/** Waits `ms`, or less when closing aborts it; the timer's abort listener goes with it. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return wait(ms, undefined, { signal }).catch(() => {});
}
