import type { Bus } from '../bus/bus.js';
import type { Metrics } from '../metrics.js';
import type { NotificationStore, PublishRequest, PublishResult } from '../store/store.js';

export type PublishSource = 'http' | 'amqp' | 'cli';

/** The one ingest path: commit to the store, then hint every node through the bus. */
export class NotificationPublisher {
  constructor(
    private readonly store: NotificationStore,
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    /** Told of each scheduled publish, so it looks again by its due time. */
    private readonly scheduler?: { wake(deliverAt: string): void },
  ) {}

  async publish(request: PublishRequest, source: PublishSource): Promise<PublishResult> {
    const result = await this.store.publish(request);
    const firstDue = result.scheduled?.[0]?.deliver_at;
    if (!result.replayed && firstDue !== undefined) this.scheduler?.wake(firstDue);
    if (!result.replayed) {
      this.metrics.published.inc({ source }, result.events.length);
      // A failed hint loses nothing: the events are committed and nodes resync from the store.
      await Promise.all(result.events.map((event) => this.bus.publish({ kind: 'notification', event }).catch(() => {})));
    }
    return result;
  }
}
