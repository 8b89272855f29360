// One /metrics answer for a node with workers: the primary gathers every process's registry
// and adds them up. Counters, histograms and the gauges of a worker's own share (streams,
// limits) are summed into the node's figure, without a label; figures only meaningful per
// process (CPU, memory, event loop, readiness) keep one series per process with a `worker`
// label (`primary` for the primary); figures every worker reads from the same place (the
// push queue, the broker's queues, the machine's memory) are taken once (max).
import { AggregatorRegistry } from 'prom-client';
import type { WorkerMetrics } from './messages.js';

/** Per process, with a `worker` label. */
const PER_PROCESS = /^herald_(process_|nodejs_|ready$|overloaded$|clock_offset_seconds$|retention_last_success_timestamp_seconds$)/;

/** The same figure read by every worker: one of them stands for the node. */
const SHARED = new Set([
  'herald_memory_limit_bytes', 'herald_ingest_queue_messages', 'herald_ingest_dead_letter_messages', 'herald_ingest_queue_probe_ok',
  'herald_push_queue_depth', 'herald_push_queue_oldest_age_seconds', 'herald_push_subscriptions', 'herald_writer_heap_bytes',
]);

/** Each process's metrics (by `worker`: a slot number or `primary`), added up into one Prometheus text. */
export async function nodeMetrics(processes: ReadonlyArray<{ worker: string; metrics: WorkerMetrics }>): Promise<string> {
  const shaped = processes.map(({ worker, metrics }) => metrics.map((metric) => {
    if (PER_PROCESS.test(metric.name)) {
      return { ...metric, aggregator: 'sum' as const, values: metric.values.map((value) => ({ ...value, labels: { ...value.labels, worker } })) };
    }
    return SHARED.has(metric.name) ? { ...metric, aggregator: 'max' as const } : metric;
  }));
  return AggregatorRegistry.aggregate(shaped).metrics();
}
