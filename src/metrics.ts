import { totalmem } from 'node:os';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CLOSE_REASONS } from './sse/session.js';
import type { CommitObserver } from './store/group-commit.js';
import type { WriterHeap } from './store/store.js';
import { SEND_RESULTS, SKIP_REASONS } from './push/push-policy.js';

/** Depth of the AMQP ingest queue and of its dead-letter queue, as the broker reports them. */
export interface QueueDepths {
  ingest: number;
  deadLetter: number;
}

/**
 * Values only known elsewhere (the store, the broker, the overload guard), read at scrape
 * time so a metric never goes stale between two events. Each is optional: unset, its
 * gauge keeps its last value (0 at start).
 */
export interface MetricProbes {
  ready?: () => Promise<boolean>;
  overloaded?: () => boolean;
  queues?: () => Promise<QueueDepths>;
  /** The SQLite writer thread's heap; null without one. */
  writerHeap?: () => Promise<WriterHeap | null>;
  push?: () => Promise<PushDepths>;
}

/** The push queue and subscriptions as the store counts them (src/push/). */
export interface PushDepths {
  depth: number;
  /** Age of the oldest waiting row, seconds (0 when none waits). */
  oldestAgeS: number;
  subscriptions: number;
}

/** The label values each labelled counter starts with, at 0. */
const PUBLISH_SOURCES = ['http', 'amqp', 'cli', 'scheduled'] as const;
const RETENTION_KINDS = ['notifications', 'states', 'idempotency_keys', 'tickets', 'push'] as const;

/** Herald's Prometheus metrics, one registry per process (tests build several apps). */
export class Metrics {
  readonly registry = new Registry();
  readonly probes: MetricProbes = {};
  /**
   * The text `/metrics` answers: this registry's, or, in a worker of a node with
   * HERALD_WORKERS > 1, the whole node's as the primary aggregates it (src/cluster/node-metrics.ts).
   */
  render: () => Promise<string> = () => this.registry.metrics();
  readonly connections = new Gauge({ name: 'herald_stream_connections', help: 'Open SSE streams on this node.', registers: [this.registry] });
  readonly opened = new Counter({ name: 'herald_stream_opened_total', help: 'Streams opened.', registers: [this.registry] });
  readonly closed = new Counter({ name: 'herald_stream_closed_total', help: 'Streams closed, by reason.', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly rejected = new Counter({ name: 'herald_stream_rejected_total', help: 'Streams refused, by error code.', labelNames: ['code'] as const, registers: [this.registry] });
  readonly published = new Counter({ name: 'herald_published_total', help: 'Notifications stored, by source.', labelNames: ['source'] as const, registers: [this.registry] });
  readonly delivered = new Counter({ name: 'herald_delivered_total', help: 'Notification events written to streams.', registers: [this.registry] });
  readonly replayed = new Counter({ name: 'herald_replayed_total', help: 'Notification events sent from the store on resume or gap fill.', registers: [this.registry] });
  readonly resets = new Counter({
    name: 'herald_stream_resets_total',
    help: 'Streams told `reset` because their cursor could not be resumed (another database, or older than what retention keeps), by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({ name: 'herald_auth_failures_total', help: 'Requests refused for a missing or invalid token.', registers: [this.registry] });
  readonly connectionsRefused = new Counter({
    name: 'herald_connections_refused_total',
    help: 'Connections closed as soon as they were accepted, unanswered, because their address already held HERALD_MAX_CONNECTIONS_PER_ADDRESS connections other than streams.',
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'herald_delivery_latency_seconds',
    help: 'From acceptance of a notification to its write on a stream socket.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  // The group commit's two stages: a publish waits in the queue (behind the transaction in
  // progress), then in its own transaction. Which one grows tells where publishes wait.
  readonly publishQueueWait = new Histogram({
    name: 'herald_publish_queue_seconds',
    help: 'From a publish (or a batch publish) reaching the store to its transaction starting: the wait behind the transaction in progress.',
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly publishTransaction = new Histogram({
    name: 'herald_publish_transaction_seconds',
    help: 'From a transaction of publishes being handed to the database (the SQLite writer thread, or PostgreSQL) to its answer: the writes and the commit\'s fsync.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly publishTransactionSize = new Histogram({
    name: 'herald_publish_transaction_publishes',
    help: 'Publishes committed together in one transaction (a batch publish\'s items count one each).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });

  /** Feeds the three herald_publish_* histograms above from the store's group commit. */
  readonly commitObserver: CommitObserver = {
    started: (waitedS) => {
      for (const s of waitedS) this.publishQueueWait.observe(s);
    },
    finished: (requests, seconds) => {
      this.publishTransaction.observe(seconds);
      this.publishTransactionSize.observe(requests);
    },
  };

  // Operations: what the alert rules and the dashboard in deploy/ read.
  readonly httpRequests = new Counter({
    name: 'herald_http_requests_total',
    help: 'HTTP requests answered, by route template (unmatched for unknown paths) and status class (2xx..5xx).',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly maxConnections = new Gauge({ name: 'herald_stream_max_connections', help: 'Streams this node admits in total (HERALD_MAX_CONNECTIONS).', registers: [this.registry] });
  readonly memoryLimit = new Gauge({
    name: 'herald_memory_limit_bytes',
    help: 'Memory available to the process: the cgroup (container) limit when there is one, else the machine\'s memory.',
    registers: [this.registry],
  });
  readonly shed = new Counter({
    name: 'herald_overload_shed_total',
    help: 'New streams and publishes refused with 503 because the node was overloaded, by route (stream, publish) and bound crossed (eventLoopDelay, heapUsedBytes, rssBytes).',
    labelNames: ['route', 'reason'] as const,
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'herald_ready',
    help: '1 when the node is ready for traffic (database and broker reachable, not overloaded), else 0; as /readyz says.',
    registers: [this.registry],
    collect: async () => { if (this.probes.ready) this.ready.set((await this.probes.ready()) ? 1 : 0); },
  });
  readonly overloaded = new Gauge({
    name: 'herald_overloaded',
    help: '1 while the node sheds new streams and publishes (event-loop delay, heap or RSS over its bound), else 0.',
    registers: [this.registry],
    collect: () => { if (this.probes.overloaded) this.overloaded.set(this.probes.overloaded() ? 1 : 0); },
  });
  readonly ingestQueue = new Gauge({ name: 'herald_ingest_queue_messages', help: 'Messages waiting in the AMQP ingest queue (ready, not yet delivered to a node).', registers: [this.registry] });
  readonly deadLetters = new Gauge({ name: 'herald_ingest_dead_letter_messages', help: 'Messages in the AMQP dead-letter queue, waiting for a person to look at them.', registers: [this.registry] });
  // The broker is asked once per scrape, with a bound: a scrape never hangs on a broker that is away.
  readonly queueProbeOk = new Gauge({
    name: 'herald_ingest_queue_probe_ok',
    help: '1 when the last scrape could read the ingest queue depths from the broker, 0 when it could not (always 0 without AMQP ingest).',
    registers: [this.registry],
    collect: async () => {
      const probe = this.probes.queues;
      if (!probe) return;
      try {
        const depths = await withTimeout(probe(), 2000);
        this.ingestQueue.set(depths.ingest);
        this.deadLetters.set(depths.deadLetter);
        this.queueProbeOk.set(1);
      } catch {
        this.queueProbeOk.set(0);
      }
    },
  });
  // The writer thread's isolate is outside herald_nodejs_heap_* (the main thread's) but inside
  // the process's RSS: without it, its growth would look like native memory.
  readonly writerHeap = new Gauge({
    name: 'herald_writer_heap_bytes',
    help: 'V8 heap of the SQLite writer thread, by kind (used: live objects; total: taken from the system). Absent on PostgreSQL.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
    collect: async () => {
      const probe = this.probes.writerHeap;
      if (!probe) return;
      const heap = await withTimeout(probe(), 2000).catch(() => null);
      if (!heap) return;
      this.writerHeap.set({ kind: 'used' }, heap.used);
      this.writerHeap.set({ kind: 'total' }, heap.total);
    },
  });
  readonly retentionDeleted = new Counter({
    name: 'herald_retention_deleted_total',
    help: 'Rows deleted by retention, by kind (notifications, states, idempotency_keys, tickets, push: ended push subscriptions and stale presence).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly clockOffset = new Gauge({
    name: 'herald_clock_offset_seconds',
    help: 'The database\'s clock minus this node\'s (PostgreSQL): Herald judges time by the database\'s; far from 0, fix the node\'s NTP.',
    registers: [this.registry],
  });
  // Web Push: read from the store once per scrape, with a bound (like the broker's depths).
  readonly pushQueueDepth = new Gauge({
    name: 'herald_push_queue_depth',
    help: 'Rows in the durable push queue (decisions waiting for their delay, and sends waiting or being retried), for the whole deployment.',
    registers: [this.registry],
    collect: async () => {
      const probe = this.probes.push;
      if (!probe) return;
      try {
        const depths = await withTimeout(probe(), 2000);
        this.pushQueueDepth.set(depths.depth);
        this.pushQueueOldestAge.set(depths.oldestAgeS);
        this.pushSubscriptions.set(depths.subscriptions);
      } catch {
        // Kept at their last values; herald_ready says when the database is away.
      }
    },
  });
  readonly pushQueueOldestAge = new Gauge({
    name: 'herald_push_queue_oldest_age_seconds',
    help: 'Age of the oldest row in the push queue (0 when empty): grows when pushes are not sent, e.g. a push service failing or no node sending.',
    registers: [this.registry],
  });
  readonly pushSubscriptions = new Gauge({ name: 'herald_push_subscriptions', help: 'Web Push subscriptions stored, for the whole deployment.', registers: [this.registry] });
  readonly pushSent = new Counter({
    name: 'herald_push_sent_total',
    help: 'Pushes this node sent to push services, by result: sent (201/202), gone (404/410: the subscription is deleted), retried (429, 5xx or no answer), dropped (any other answer), expired (the TTL ran out first), refused (the endpoint failed the origin guard: no request).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly pushSkipped = new Counter({
    name: 'herald_push_skipped_total',
    help: 'Queued notifications this node decided not to push, by reason (present: the user had a stream open; read, seen, archived, snoozed: the user dealt with it; muted; expired; gone; no_subscription).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly pushLatency = new Histogram({
    name: 'herald_push_latency_seconds',
    help: 'From a notification\'s creation to a push service taking its push (an `auto` push\'s delay included).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 300],
    registers: [this.registry],
  });
  readonly retentionLastSuccess = new Gauge({
    name: 'herald_retention_last_success_timestamp_seconds',
    help: 'Unix time at which this node last finished a retention pass (0: never).',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'herald_' });
    this.memoryLimit.set(memoryLimitBytes());
    // A labelled counter has no sample until its first event: a fresh node's dashboard
    // panels (rate by source, by reason) would say "No data" instead of 0.
    for (const source of PUBLISH_SOURCES) this.published.inc({ source }, 0);
    for (const reason of CLOSE_REASONS) this.closed.inc({ reason }, 0);
    this.resets.inc({ reason: 'unknown_cursor' }, 0);
    for (const kind of RETENTION_KINDS) this.retentionDeleted.inc({ kind }, 0);
    for (const result of SEND_RESULTS) this.pushSent.inc({ result }, 0);
    for (const reason of SKIP_REASONS) this.pushSkipped.inc({ reason }, 0);
  }
}

/** The cgroup memory limit (containers), or the machine's memory when unconstrained. */
function memoryLimitBytes(): number {
  const total = totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? Number(process.constrainedMemory()) : 0;
  // Node reports 0, undefined or a huge sentinel (2^63-ish) when there is no limit.
  return constrained > 0 && constrained < total ? constrained : total;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
