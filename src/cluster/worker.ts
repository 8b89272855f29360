// One worker of a node with HERALD_WORKERS > 1: the same Herald createHerald puts together,
// with a worker's share of the node's limits, and in embedded mode the primary's writer and
// the in-host bus in place of its own writer thread and in-process bus.
import cluster from 'node:cluster';
import type { Config } from '../config.js';
import { createLogger } from '../log.js';
import { createHerald, serveConfig, type RunningHerald, type WorkerRole } from '../main.js';
import { isPostgresUrl } from '../store/open-store.js';
import { PrimaryChannel, Requests } from './channel.js';
import { ClusterBus } from './cluster-bus.js';
import { SINGLETON_SLOT, WORKER_SLOT_VARIABLE } from './messages.js';
import { WriteRelay } from './write-relay.js';

/** The header naming the worker that answered (a slot number), on every answer of a node with workers. */
export const WORKER_HEADER = 'herald-worker';

/** True in a process the primary started as a worker. */
export function isWorkerProcess(): boolean {
  return cluster.isWorker && process.env[WORKER_SLOT_VARIABLE] !== undefined;
}

/**
 * A worker's share of the limits that bound what the node holds at once: streams in total,
 * per user and per address, other connections per address, and resident memory. Each worker
 * admits its part (rounded up); the primary's round-robin spreads connections evenly, so a
 * user or address reaches the node's bound on all workers together, or a little before it
 * when their connections land unevenly. Rates (publishes and requests per minute per token)
 * stay whole per worker: a client on one kept-alive connection stays on one worker.
 */
export function workerShare(config: Config): Config {
  const share = (limit: number) => Math.max(1, Math.ceil(limit / config.workers));
  return {
    ...config,
    maxConnections: share(config.maxConnections),
    maxConnectionsPerUser: share(config.maxConnectionsPerUser),
    maxConnectionsPerIp: share(config.maxConnectionsPerIp),
    maxConnectionsPerAddress: config.maxConnectionsPerAddress === 0 ? 0 : share(config.maxConnectionsPerAddress),
    shedRssMb: config.shedRssMb === 0 ? 0 : share(config.shedRssMb),
  };
}

export async function runWorker(given: Config): Promise<RunningHerald> {
  const slot = Number(process.env[WORKER_SLOT_VARIABLE]);
  const log = createLogger(given.logLevel).child({ worker: slot });
  const channel = new PrimaryChannel();
  const config = workerShare(serveConfig(given));
  const embedded = !isPostgresUrl(config.databaseUrl);
  // Scale-out mode: a worker is a full node (its own bus queue, its own share of the database
  // pool), so nothing is relayed and every worker runs the parts that coordinate through the database.
  const role: WorkerRole | undefined = embedded ? {
    singletons: slot === SINGLETON_SLOT,
    wakeScheduler: (deliverAt) => channel.send({ t: 'herald:wake', what: 'scheduler', deliverAt }),
    wakePush: () => channel.send({ t: 'herald:wake', what: 'push' }),
    writer: new WriteRelay(channel),
  } : undefined;
  const herald = await createHerald(config, { log, ...(embedded ? { bus: new ClusterBus(channel) } : {}), ...(role ? { worker: role } : {}) });
  herald.app.server.prependListener('request', (_request, response) => response.setHeader(WORKER_HEADER, String(slot)));

  channel.on('herald:wake', (message) => {
    if (message.what === 'scheduler') herald.scheduler.wake(message.deliverAt);
    else herald.pushSender?.wake();
  });
  channel.on('herald:collect', (message) => {
    void herald.metrics.registry.getMetricsAsJSON().then((metrics) => channel.send({ t: 'herald:collected', id: message.id, metrics }));
  });
  const metricsRequests = new Requests<string>(() => new Error('this worker lost its primary'));
  channel.on('herald:metrics-text', (message) => metricsRequests.answered(message.id, message.text));
  herald.metrics.render = () => metricsRequests.ask((id) => channel.send({ t: 'herald:metrics', id }));

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void herald.shutdown().then(() => process.exit(0), () => process.exit(1));
  };
  channel.on('herald:shutdown', stop);
  // A signal sent to the whole process group (Ctrl+C, a container's stop) drains as the primary's message does.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, stop);
  // The primary is gone (killed): this worker's writes and bus are too, so it stops at once.
  process.once('disconnect', () => { if (!stopping) process.exit(1); });
  const address = herald.app.server.address();
  channel.send({ t: 'herald:listening', port: typeof address === 'object' && address ? address.port : config.port });
  return herald;
}
