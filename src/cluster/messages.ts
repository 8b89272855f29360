// What a node's primary and its workers say to each other over the cluster's IPC channel
// (structured clone: cluster.setupPrimary({ serialization: 'advanced' })). Every message
// is tagged `herald:`; anything else on the channel is not ours and is ignored.
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { BusMessage } from '../bus/bus.js';
import type { RelayedAnswer, RelayedRequest } from '../store/sqlite-thread-writer.js';

/** The variable the primary gives each worker: its slot, 1..N (a restarted worker keeps its slot). */
export const WORKER_SLOT_VARIABLE = 'HERALD_WORKER_SLOT';

/** The slot that runs the once-per-node parts (scheduler, retention, Web Push sender). */
export const SINGLETON_SLOT = 1;

export type WorkerMetrics = Array<MetricObjectWithValues<MetricValue<string>>>;

export type ToPrimary =
  /** A write for the primary's SQLite writer thread; answered by `herald:written` with the same id. */
  | { t: 'herald:write'; id: number; request: RelayedRequest }
  /** Bus messages for every other worker, in order: those one worker published in one turn of its loop. */
  | { t: 'herald:bus'; messages: BusMessage[] }
  /** `/metrics` was asked here: answered by `herald:metrics-text` with the whole node's. */
  | { t: 'herald:metrics'; id: number }
  /** This worker's registry, answering `herald:collect`. */
  | { t: 'herald:collected'; id: number; metrics: WorkerMetrics }
  /** For the singleton worker: a publish scheduled something, or wants a push now. */
  | { t: 'herald:wake'; what: 'scheduler'; deliverAt: string }
  | { t: 'herald:wake'; what: 'push' }
  /** The worker listens (it is ready for connections). */
  | { t: 'herald:listening'; port: number };

export type ToWorker =
  | { t: 'herald:written'; id: number; answer: RelayedAnswer }
  | { t: 'herald:bus'; messages: BusMessage[] }
  | { t: 'herald:metrics-text'; id: number; text: string }
  | { t: 'herald:collect'; id: number }
  | { t: 'herald:wake'; what: 'scheduler'; deliverAt: string }
  | { t: 'herald:wake'; what: 'push' }
  /** Drain and stop (the primary got SIGTERM). */
  | { t: 'herald:shutdown' };

export function isHeraldMessage(message: unknown): message is { t: string } {
  return typeof message === 'object' && message !== null && typeof (message as { t?: unknown }).t === 'string'
    && (message as { t: string }).t.startsWith('herald:');
}
