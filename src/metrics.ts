import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Herald's Prometheus metrics, one registry per process (tests build several apps). */
export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'herald_stream_connections', help: 'Open SSE streams on this node.', registers: [this.registry] });
  readonly opened = new Counter({ name: 'herald_stream_opened_total', help: 'Streams opened.', registers: [this.registry] });
  readonly closed = new Counter({ name: 'herald_stream_closed_total', help: 'Streams closed, by reason.', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly rejected = new Counter({ name: 'herald_stream_rejected_total', help: 'Streams refused, by error code.', labelNames: ['code'] as const, registers: [this.registry] });
  readonly published = new Counter({ name: 'herald_published_total', help: 'Notifications stored, by source.', labelNames: ['source'] as const, registers: [this.registry] });
  readonly delivered = new Counter({ name: 'herald_delivered_total', help: 'Notification events written to streams.', registers: [this.registry] });
  readonly replayed = new Counter({ name: 'herald_replayed_total', help: 'Notification events sent from the store on resume or gap fill.', registers: [this.registry] });
  readonly resets = new Counter({ name: 'herald_stream_resets_total', help: 'Streams answered with reset (a cursor that cannot be resumed).', registers: [this.registry] });
  readonly authFailures = new Counter({ name: 'herald_auth_failures_total', help: 'Requests refused for a missing or invalid token.', registers: [this.registry] });
  readonly deliveryLatency = new Histogram({
    name: 'herald_delivery_latency_seconds',
    help: 'From acceptance of a notification to its write on a stream socket.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'herald_' });
  }
}
