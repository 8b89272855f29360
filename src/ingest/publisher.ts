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

  constructor(
    store: NotificationStore,
    bus: Bus,
    metrics: Metrics,
    /** Told of each scheduled publish, so it looks again by its due time. */
    scheduler?: { wake(deliverAt: string): void },
  ) {
    this.#store = store;
    this.#bus = bus;
    this.#metrics = metrics;
    this.#scheduler = scheduler;
  }

  async publish(request: PublishRequest, source: PublishSource): Promise<PublishOutcome> {
    // The store leaves out recipients who muted the type, in the write's own transaction.
    const result = await this.#store.publish(request);
    return this.#committed(request, result, source);
  }

  /**
   * Publishes each request, all in one transaction (one commit answers them all), and
   * answers one outcome per request, in order: a request that fails fails alone.
   */
  async publishBatch(requests: readonly PublishRequest[], source: PublishSource): Promise<Array<Outcome<PublishOutcome>>> {
    const outcomes = await this.#store.publishBatch(requests);
    return Promise.all(outcomes.map(async (outcome, i): Promise<Outcome<PublishOutcome>> => (
      outcome.ok ? { ok: true, value: await this.#committed(requests[i] as PublishRequest, outcome.value, source) } : outcome
    )));
  }

  async #committed(request: PublishRequest, result: PublishResult, source: PublishSource): Promise<PublishOutcome> {
    const firstDue = result.scheduled?.[0]?.deliver_at;
    if (!result.replayed && firstDue !== undefined) this.#scheduler?.wake(firstDue);
    if (!result.replayed) {
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
