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
  ) {}

  async publish(request: PublishRequest, source: PublishSource): Promise<PublishResult> {
    const result = await this.store.publish(request);
    if (!result.replayed) {
      this.metrics.published.inc({ source }, result.events.length);
      // A failed hint loses nothing: the events are committed and nodes resync from the store.
      await Promise.all(result.events.map((event) => this.bus.publish({ kind: 'notification', event }).catch(() => {})));
    }
    return result;
  }
}
