// The primary of a node with HERALD_WORKERS > 1. It serves no HTTP: it starts the workers
// (which share the listening port; see docs/architecture.md, "Workers"), restarts one that
// dies, relays the in-host bus and, in embedded mode, owns the node's one SQLite writer
// thread, which every worker's writes reach over IPC. SIGTERM drains every worker, then
// the writer closes.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Config } from '../config.js';
import { createLogger } from '../log.js';
import { announceStart, openMigratedStore, printDevBanner, pushQueueing, serveConfig } from '../main.js';
import { isPostgresUrl, sqlitePath } from '../store/open-store.js';
import { GroupCommit, type Outcome } from '../store/group-commit.js';
import { PUBLISH_BATCH } from '../store/kysely-store.js';
import { publishWeight } from '../store/rows.js';
import { decodeError, encodeError, SqliteThreadWriter, type RelayedAnswer, type WireOutcome } from '../store/sqlite-thread-writer.js';
import type { PublishRequest } from '../store/store.js';
import { isHeraldMessage, SINGLETON_SLOT, WORKER_SLOT_VARIABLE, type ToPrimary, type ToWorker, type WorkerMetrics } from './messages.js';
import { nodeMetrics } from './node-metrics.js';

/** Waits before starting a slot's worker again after it died: doubling from the first, up to the last. */
const RESTART_DELAYS_MS = { first: 100, max: 5000 };
/** A worker that lived this long before dying starts again after the first delay. */
const STABLE_MS = 10_000;
/** A worker that does not hand in its metrics this fast is left out of that scrape. */
const COLLECT_TIMEOUT_MS = 2000;
/** Beyond the drain and the close grace, how long a worker may take to stop before it is killed. */
const STOP_SLACK_MS = 10_000;

interface Slot {
  slot: number;
  worker: Worker | null;
  startedAt: number;
  restartDelayMs: number;
  listening: boolean;
}

export async function runPrimary(given: Config): Promise<void> {
  const log = createLogger(given.logLevel).child({ worker: 'primary' });
  announceStart(given, log);
  // Made here, once, before the workers read them (development mode's secret and VAPID pair).
  const config = serveConfig(given);
  const embedded = !isPostgresUrl(config.databaseUrl);
  let writer: SqliteThreadWriter | null = null;
  if (embedded) {
    // Migrated once, here; the workers only read beside the writer thread (WAL).
    const store = await openMigratedStore(config, undefined);
    await store.close();
    writer = new SqliteThreadWriter(sqlitePath(config.databaseUrl), config.sqliteSynchronous, undefined, pushQueueing(config));
  }
  // Workers' publish batches that arrive while the thread commits share its next transaction
  // (one commit, one fsync), as one process's concurrent publishes do: without it, each
  // worker's batch would commit on its own and N workers would pay N fsyncs where one did.
  const joined = writer ? joinBatches(writer) : null;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'herald_' });

  const env: Record<string, string> = {};
  // Without any secret a ticket key is random per process: the workers share one instead,
  // so a ticket minted by one is accepted by the others.
  if (config.ticketSecret === null && config.jwtSecret === null) env.HERALD_TICKET_SECRET = randomBytes(32).toString('base64url');
  cluster.setupPrimary({ serialization: 'advanced' });

  const slots: Slot[] = Array.from({ length: config.workers }, (_, i) => ({ slot: i + 1, worker: null, startedAt: 0, restartDelayMs: RESTART_DELAYS_MS.first, listening: false }));
  let port = config.port;
  let announced = false;
  let stopping = false;
  const collecting = new Map<number, (metrics: WorkerMetrics | null) => void>();
  let nextCollect = 0;

  const send = (worker: Worker | null, message: ToWorker): void => {
    if (worker?.isConnected()) worker.send(message);
  };

  const collectFrom = (worker: Worker): Promise<WorkerMetrics | null> => new Promise((resolve) => {
    const id = nextCollect++;
    const timer = setTimeout(() => { collecting.delete(id); resolve(null); }, COLLECT_TIMEOUT_MS);
    collecting.set(id, (metrics) => { clearTimeout(timer); collecting.delete(id); resolve(metrics); });
    send(worker, { t: 'herald:collect', id });
  });

  const renderMetrics = async (): Promise<string> => {
    const live = slots.filter((s) => s.worker?.isConnected());
    const gathered = await Promise.all(live.map(async (s) => ({ worker: String(s.slot), metrics: await collectFrom(s.worker as Worker) })));
    const processes = gathered.filter((g): g is { worker: string; metrics: WorkerMetrics } => g.metrics !== null);
    return nodeMetrics([{ worker: 'primary', metrics: await registry.getMetricsAsJSON() }, ...processes]);
  };

  const onMessage = (slot: Slot, message: ToPrimary): void => {
    const worker = slot.worker;
    switch (message.t) {
      case 'herald:write': {
        if (!writer) return;
        const request = message.request;
        const answered = request.kind === 'write' && joined
          ? joined.submitTogether(request.requests).then(
            (outcomes): RelayedAnswer => ({ outcomes: outcomes.map((o) => (o.ok ? o.value : { ok: false, error: encodeError(o.error) })) }),
            (err: unknown): RelayedAnswer => ({ error: encodeError(err) }),
          )
          : writer.relay(request);
        void answered.then((answer) => send(worker, { t: 'herald:written', id: message.id, answer }));
        return;
      }
      case 'herald:bus':
        for (const other of slots) if (other !== slot) send(other.worker, message);
        return;
      case 'herald:metrics':
        void renderMetrics().then((text) => send(worker, { t: 'herald:metrics-text', id: message.id, text }));
        return;
      case 'herald:collected':
        collecting.get(message.id)?.(message.metrics);
        return;
      case 'herald:wake':
        send(slots[SINGLETON_SLOT - 1]?.worker ?? null, message);
        return;
      case 'herald:listening':
        slot.listening = true;
        port = message.port;
        // The first worker holds the port (HERALD_PORT=0 picked it); the others join it there.
        for (const other of slots) if (!other.worker && !stopping && !announced) fork(other);
        if (!announced && slots.every((s) => s.listening)) {
          announced = true;
          const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
          log.info({ url, port, workers: config.workers }, 'listening');
          void printDevBanner(config, url);
        }
    }
  };

  const fork = (slot: Slot): void => {
    // Every worker asks for the configured port: the cluster shares one listening socket per
    // address and port asked for (with HERALD_PORT=0, the one picked for the first worker,
    // for as long as one worker holds it).
    const worker = cluster.fork({ ...env, [WORKER_SLOT_VARIABLE]: String(slot.slot) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.listening = false;
    worker.on('message', (message: unknown) => {
      if (isHeraldMessage(message)) onMessage(slot, message as ToPrimary);
    });
    worker.on('exit', (code, signal) => {
      if (slot.worker === worker) slot.worker = null;
      if (stopping) return;
      if (!announced) {
        // A worker that cannot start (its reason is in its own output) would fail again: the node does not start.
        log.fatal({ slot: slot.slot, code, signal }, 'a worker stopped before every worker was listening; stopping');
        void stop().then(() => process.exit(1), () => process.exit(1));
        return;
      }
      if (Date.now() - slot.startedAt >= STABLE_MS) slot.restartDelayMs = RESTART_DELAYS_MS.first;
      const delay = slot.restartDelayMs;
      slot.restartDelayMs = Math.min(delay * 2, RESTART_DELAYS_MS.max);
      log.error({ slot: slot.slot, pid: worker.process.pid, code, signal, restartInMs: delay }, 'a worker stopped; starting it again (its streams reconnect to the other workers and resume from their cursors)');
      setTimeout(() => { if (!stopping) fork(slot); }, delay);
    });
  };
  fork(slots[0] as Slot);

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      log.info({ workers: slots.filter((s) => s.worker).length, drainMs: config.drainMs }, 'draining every worker');
      const exits = slots.map((s) => {
        const worker = s.worker;
        if (!worker || worker.isDead()) return Promise.resolve();
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        send(worker, { t: 'herald:shutdown' });
        // A worker stuck past its drain and close grace is ended.
        const kill = setTimeout(() => worker.process.kill('SIGKILL'), config.drainMs + config.streamCloseGraceMs + STOP_SLACK_MS);
        return exited.finally(() => clearTimeout(kill));
      });
      await Promise.all(exits);
      // Every write a worker accepted has been answered: the writer closes last.
      await writer?.close();
      log.info('stopped');
    })();
    return stopped;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void stop().then(() => process.exit(0), () => process.exit(1)));
  }
}

/**
 * A group commit over the writer thread whose answers stay encoded (the workers decode them).
 * A transaction that failed as a whole is retried by GroupCommit one publish at a time, so
 * one worker's bad publish never fails another worker's.
 */
function joinBatches(writer: SqliteThreadWriter): GroupCommit<PublishRequest, WireOutcome> {
  return new GroupCommit<PublishRequest, WireOutcome>({
    async write(requests): Promise<Outcome<WireOutcome>[]> {
      const answer = await writer.relay({ kind: 'write', requests });
      if ('error' in answer) throw decodeError(answer.error);
      if (!('outcomes' in answer)) throw new Error('the writer thread answered a batch with a value');
      return answer.outcomes.map((value) => ({ ok: true, value }));
    },
  }, PUBLISH_BATCH, publishWeight);
}
