import type { Bus } from '../bus/bus.js';
import type { Metrics } from '../metrics.js';
import type { NotificationStore, PublishRequest, PublishResult, TopicEvent } from '../store/store.js';

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
    const firstDue = result.scheduled?.[0]?.deliver_at;
    if (!result.replayed && firstDue !== undefined) this.#scheduler?.wake(firstDue);
    if (!result.replayed) {
      if (request.push === 'always' && request.recipients !== null && result.events.length > 0) this.#pushSender?.wake();
      this.#metrics.published.inc({ source }, result.events.length);
      // A failed hint loses nothing: the events are committed and nodes resync from the store.
      await Promise.all(result.events.map((event) => this.#bus.publish({ kind: 'notification', event: withCritical(event, request) }).catch(() => {})));
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
