import type { Bus } from '../bus/bus.js';
import type { Metrics } from '../metrics.js';
import type { NotificationStore, Outcome, PublishRequest, PublishResult, TopicEvent } from '../store/store.js';

export type PublishSource = 'http' | 'amqp' | 'cli';

export interface PublishOutcome extends PublishResult {
  /** Recipients who muted the type and got nothing, in the order the publish named them. */
  suppressed: string[];
}

/** The one ingest path: commit to the store (which drops muted recipients), then hint every node through the bus. */
export class NotificationPublisher {
  readonly #store: NotificationStore;
  readonly #bus: Bus;
  readonly #metrics: Metrics;
  readonly #scheduler: { wake(deliverAt: string): void } | undefined;
  readonly #pushSender: { wake(): void } | undefined;

  constructor(
    store: NotificationStore,
    bus: Bus,
    metrics: Metrics,
    /** Told of each scheduled publish, so it looks again by its due time. */
    scheduler?: { wake(deliverAt: string): void },
    /** Told of each publish pushed at once (`push: "always"`), so it sends without waiting for its next look. */
    pushSender?: { wake(): void },
  ) {
    this.#store = store;
    this.#bus = bus;
    this.#metrics = metrics;
    this.#scheduler = scheduler;
    this.#pushSender = pushSender;
  }

  async publish(request: PublishRequest, source: PublishSource): Promise<PublishOutcome> {
    // The store leaves out recipients who muted the type, in the write's own transaction.
    const result = await this.#store.publish(request);
    const hints: Array<Promise<void>> = [];
    const outcome = this.#committed(request, result, hints);
    if (!result.replayed) this.#metrics.published.inc({ source }, result.events.length);
    await Promise.all(hints);
    return outcome;
  }

  /**
   * Publishes each request, all in one transaction (one commit answers them all), and
   * answers one outcome per request, in order: a request that fails fails alone.
   */
  async publishBatch(requests: readonly PublishRequest[], source: PublishSource): Promise<Array<Outcome<PublishOutcome>>> {
    const outcomes = await this.#store.publishBatch(requests);
    const hints: Array<Promise<void>> = [];
    let published = 0;
    const answers = outcomes.map((outcome, i): Outcome<PublishOutcome> => {
      if (!outcome.ok) return outcome;
      if (!outcome.value.replayed) published += outcome.value.events.length;
      return { ok: true, value: this.#committed(requests[i] as PublishRequest, outcome.value, hints) };
    });
    // Counted once for the batch: a labelled counter hashes its labels on every call.
    if (published > 0) this.#metrics.published.inc({ source }, published);
    await Promise.all(hints);
    return answers;
  }

  /** What a committed publish answers; its bus hints join `hints`. */
  #committed(request: PublishRequest, result: PublishResult, hints: Array<Promise<void>>): PublishOutcome {
    const firstDue = result.scheduled?.[0]?.deliver_at;
    if (!result.replayed && firstDue !== undefined) this.#scheduler?.wake(firstDue);
    if (!result.replayed) {
      if (request.push === 'always' && request.recipients !== null && result.events.length > 0) this.#pushSender?.wake();
      // A failed hint loses nothing: the events are committed and nodes resync from the store.
      for (const event of result.events) hints.push(this.#bus.publish({ kind: 'notification', event: withCritical(event, request) }).catch(() => {}));
    }
    return { ...result, suppressed: result.replayed ? replayedSuppressed(request, result) : result.suppressed ?? [] };
  }
}

/** The hubs need the flag to show a critical topic notification to readers who muted its type. */
function withCritical(event: TopicEvent, request: PublishRequest): TopicEvent {
  return request.critical ? { ...event, critical: true } : event;
}

/**
 * A replay answers what the first publish suppressed, whatever the preferences are now: the
 * recipients that publish stored nothing for (the key's body, so its recipients, is the same).
 */
function replayedSuppressed(request: PublishRequest, result: PublishResult): string[] {
  // A scheduled publish's key keeps the list itself: its copies may be gone by now.
  if (result.suppressed !== undefined) return result.suppressed;
  if (!request.recipients) return [];
  const stored = new Set([...result.events, ...(result.scheduled ?? [])].map((stored) => stored.notification.recipient));
  return request.recipients.filter((r) => !stored.has(r));
}
