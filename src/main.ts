// The composition root: config -> backends -> app -> listen; drain on SIGTERM. Every
// Herald is put together here: `herald serve`, the in-process test harness (with a few
// parts swapped, see HeraldOverrides) and the tools.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Connection } from 'rabbitmq-client';
import { createTokenVerifier, mintToken, type TokenVerifier } from './auth/jwt.js';
import { loadVerificationKeys } from './auth/keys.js';
import { createTicketService } from './auth/tickets.js';
import { buildApp } from './app.js';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory-bus.js';
import { RabbitMqBus } from './bus/rabbitmq-bus.js';
import { openAmqpConnection } from './bus/rabbitmq-connection.js';
import { ConfigError, describeConfig, unknownVariables, type Config } from './config.js';
import { loadOrCreateDevSecret } from './dev-secret.js';
import { createAuthenticate, createAuthenticateStream } from './http/authenticate.js';
import { AmqpIngest } from './ingest/amqp-ingest.js';
import { NotificationPublisher } from './ingest/publisher.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Scheduler } from './schedule/scheduler.js';
import { DueSweeper } from './sse/due-sweeper.js';
import { Hub } from './sse/hub.js';
import { isPostgresUrl, openStore } from './store/open-store.js';
import { Retention } from './store/retention.js';
import type { NotificationStore } from './store/store.js';
import type { RemoteWriter } from './store/sqlite-thread-writer.js';
import type { Clock } from './domain/clock.js';
import { DatabaseClock } from './store/database-clock.js';
import { DEV_VAPID_SUBJECT, loadOrCreateDevVapidKeys } from './push/dev-vapid.js';
import { PresenceRecorder } from './push/presence.js';
import { PushClient } from './push/push-client.js';
import { PushSender } from './push/push-sender.js';
import { ReadTokens } from './push/read-token.js';
import type { VapidKeys } from './push/vapid-keys.js';

/** A node's clock this far from the database's is logged (Herald keeps the database's time anyway). */
const CLOCK_WARN_MS = 2000;
/** How often a node measures its clock against the database's. */
const CLOCK_MEASURE_MS = 60_000;

export interface RunningHerald {
  app: FastifyInstance;
  url: string;
  store: NotificationStore;
  bus: Bus;
  hub: Hub;
  publisher: NotificationPublisher;
  scheduler: Scheduler;
  dueSweeper: DueSweeper;
  retention: Retention;
  metrics: Metrics;
  /** Web Push's sender and this node's record of who has a stream open; null when push is off. */
  pushSender: PushSender | null;
  presence: PresenceRecorder | null;
  /** Drains streams over config.drainMs, then closes everything. */
  shutdown(): Promise<void>;
}

/** Parts a test swaps; production passes none. */
export interface HeraldOverrides {
  /** What expiry, snoozes, schedules and stream lifetimes are judged by (tests move it). */
  clock?: Clock;
  /** Replaces the configured bus (tests drop, hold or reorder its hints). */
  bus?: Bus;
  /** Wraps the store every part uses (tests make calls fail or wait); the real one is closed at shutdown. */
  wrapStore?(store: NotificationStore): NotificationStore;
  /** Leaves the scheduler, the due sweeper, retention, the push sender and presence unstarted: tests run them by hand. */
  manualBackground?: boolean;
  log?: Logger;
  /** The inbox page's files (default: the built web/dist). */
  webRoot?: string;
  /** This Herald is one worker of a node with HERALD_WORKERS > 1 (src/cluster/). */
  worker?: WorkerRole;
}

/** What a worker process changes in the Herald it puts together (src/cluster/worker.ts). */
export interface WorkerRole {
  /**
   * True on the one worker that runs the node's once-only parts: the scheduler, retention
   * and the Web Push sender. The others leave them unstarted and wake that one instead.
   */
  singletons: boolean;
  /** A publish here scheduled something for `deliverAt`: the scheduling worker looks then. */
  wakeScheduler(deliverAt: string): void;
  /** A publish here wants an immediate push: the sending worker looks now. */
  wakePush(): void;
  /** Embedded mode: the relay to the primary's one SQLite writer (this process then only reads; the primary migrated). */
  writer: RemoteWriter | null;
}

export const WEB_ROOT = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** RabbitMQ when HERALD_AMQP_URL is set (bus and queue ingest share its connection); else in-process. */
function openBus(config: Config, log: Logger): { bus: Bus; amqp: Connection | null } {
  if (config.amqpUrl === null) return { bus: new MemoryBus(), amqp: null };
  const amqp = openAmqpConnection(config.amqpUrl, log);
  return { bus: new RabbitMqBus(amqp, { exchange: config.amqpBusExchange, log }), amqp };
}

function startIngest(amqp: Connection, publisher: NotificationPublisher, config: Config, log: Logger): AmqpIngest {
  const ingest = new AmqpIngest(amqp, publisher, {
    exchange: config.amqpIngestExchange, queue: config.amqpIngestQueue, deadLetterQueue: config.amqpDeadLetterQueue,
    prefetch: config.amqpPrefetch, limits: config, log,
  });
  ingest.start();
  return ingest;
}

/** Passive declares only read the counts; they never create or change a queue. */
async function queueDepths(amqp: Connection, config: Config): Promise<{ ingest: number; deadLetter: number }> {
  const [ingest, deadLetter] = await Promise.all([
    amqp.queueDeclare({ queue: config.amqpIngestQueue, passive: true }),
    amqp.queueDeclare({ queue: config.amqpDeadLetterQueue, passive: true }),
  ]);
  return { ingest: ingest.messageCount, deadLetter: deadLetter.messageCount };
}

/** The verifier of a node with this configuration (also `herald token --verify`'s). */
export function tokenVerifier(config: Config, secret: string | null, clock?: Clock): TokenVerifier {
  const keys = loadVerificationKeys({
    secret, publicKey: config.jwtPublicKey, jwks: config.jwksUrl,
    jwksCacheMaxAgeS: config.jwksCacheMaxAgeS, jwksCooldownS: config.jwksCooldownS,
  });
  return createTokenVerifier({ keys, audience: config.jwtAudience, issuer: config.jwtIssuer, clockToleranceS: config.jwtClockToleranceS, ...(clock ? { clock } : {}) });
}

/** The VAPID pair and subject when push is on (all three configured). */
function vapidOf(config: Config): (VapidKeys & { subject: string }) | null {
  if (config.vapidPublicKey === null || config.vapidPrivateKey === null || config.vapidSubject === null) return null;
  return { publicKey: config.vapidPublicKey, privateKey: config.vapidPrivateKey, subject: config.vapidSubject };
}

/** How publishes feed the push queue with this configuration: with push on, in their own transaction. */
export function pushQueueing(config: Config): { delayMs: number } | null {
  return vapidOf(config) ? { delayMs: config.pushDelayMs } : null;
}

/**
 * The store, migrated; a database that cannot be reached stops the start with one line
 * naming it. With `writer` (a worker's relay) the store writes through it and is not
 * migrated here: the primary did that before starting the workers.
 */
export async function openMigratedStore(config: Config, clock: Clock | undefined, writer: RemoteWriter | null = null): Promise<NotificationStore> {
  let store: NotificationStore | null = null;
  try {
    store = await openStore(config.databaseUrl, {
      sqliteSynchronous: config.sqliteSynchronous, maxScheduledPerPublisher: config.maxScheduledPerPublisher, ...(clock ? { clock } : {}),
      push: pushQueueing(config),
      ...(writer ? { writer } : {}),
    });
    await (writer ? store.attach() : store.migrate());
    return store;
  } catch (err) {
    await store?.close().catch(() => {});
    if (err instanceof ConfigError) throw err;
    const where = String(describeConfig(config).databaseUrl);
    const kind = isPostgresUrl(config.databaseUrl) ? 'PostgreSQL' : 'the SQLite file';
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`cannot open ${kind} at ${where} (HERALD_DATABASE_URL): ${reason}`);
  }
}

/**
 * The start of `herald serve` (one process, or a node's primary): the crash's reason joins
 * the JSON log (Node still prints it and exits; the lines gathered before it are written on
 * 'exit'), the configuration is logged and unknown HERALD_* variables are named.
 */
export function announceStart(config: Config, log: Logger): void {
  process.on('uncaughtExceptionMonitor', (err, origin) => log.fatal({ err, origin }, 'uncaught exception: the process stops'));
  log.info({ config: describeConfig(config) }, 'starting herald');
  for (const { name, closest } of unknownVariables()) {
    log.warn({ variable: name }, `${name} is not a Herald setting and is ignored${closest ? `; did you mean ${closest}?` : ''}`);
  }
}

/**
 * The configuration `herald serve` runs with: in development mode, the secret and the VAPID
 * pair kept beside the database (made on first use; the primary of a node with workers
 * makes them before its workers read them).
 */
export function serveConfig(config: Config): Config {
  const secret = config.jwtSecret ?? (config.devMode ? loadOrCreateDevSecret(config.databaseUrl) : null);
  // Development mode pushes with a pair it keeps beside the database, as it does its secret.
  const devVapid = config.devMode && config.vapidPublicKey === null ? loadOrCreateDevVapidKeys(config.databaseUrl) : null;
  const vapid = devVapid ? { vapidPublicKey: devVapid.publicKey, vapidPrivateKey: devVapid.privateKey, vapidSubject: config.vapidSubject ?? DEV_VAPID_SUBJECT } : {};
  return { ...config, jwtSecret: secret, ...vapid };
}

/** Development mode's banner, once the node's URL is known. */
export async function printDevBanner(config: Config, url: string): Promise<void> {
  const secret = config.jwtSecret;
  if (!config.devMode || secret === null) return;
  const token = await mintToken(secret, { sub: 'demo', scope: 'subscribe publish', ttlS: 24 * 3600 });
  // Printed for people, on stderr so JSON logs on stdout stay machine-readable.
  process.stderr.write(`\nHerald is running (development mode) at ${url}\n` +
    `  Inbox page:        ${url}/#token=${token}\n` +
    `  Development token: ${token}\n` +
    `  (user "demo", scopes subscribe+publish, valid 24 h; mint others with: npx herald token --sub <user>)\n\n`);
}

/** `herald serve` with one process: a Herald on the configured address, with the development banner when it applies. */
export async function startHerald(config: Config): Promise<RunningHerald> {
  const log = createLogger(config.logLevel);
  announceStart(config, log);
  const served = serveConfig(config);
  const herald = await createHerald(served, { log });
  await printDevBanner(served, herald.url);
  return herald;
}

/** Puts a Herald together from its configuration, starts it listening, and answers its parts. */
export async function createHerald(config: Config, overrides: HeraldOverrides = {}): Promise<RunningHerald> {
  const log = overrides.log ?? createLogger(config.logLevel);
  const metrics = new Metrics();
  // On PostgreSQL every node keeps the database's time (nodes' own clocks may disagree).
  const databaseClock = overrides.clock || !isPostgresUrl(config.databaseUrl) ? null : new DatabaseClock((offsetMs, errorMs) => {
    metrics.clockOffset.set(offsetMs / 1000);
    if (Math.abs(offsetMs) > CLOCK_WARN_MS) {
      log.warn({ offsetMs: Math.round(offsetMs), errorMs: Math.round(errorMs) },
        `this node's clock is ${Math.round(Math.abs(offsetMs) / 1000)} s ${offsetMs > 0 ? 'behind' : 'ahead of'} the database's; Herald keeps the database's time, but fix this node's NTP`);
    }
  });
  const clock = overrides.clock ?? databaseClock ?? undefined;
  const secret = config.jwtSecret;
  const verifier = tokenVerifier(config, secret, clock);
  const worker = overrides.worker ?? null;
  const realStore = await openMigratedStore(config, clock, worker?.writer ?? null);
  const store = overrides.wrapStore ? overrides.wrapStore(realStore) : realStore;
  await databaseClock?.start(() => realStore.databaseTimeMs(), CLOCK_MEASURE_MS, (err) => log.warn({ err }, 'could not read the database\'s clock; keeping the last offset'));
  const { bus, amqp } = overrides.bus ? { bus: overrides.bus, amqp: null } : openBus(config, log);
  const timing = clock ? { clock } : {};
  const vapid = vapidOf(config);
  const presence = vapid ? new PresenceRecorder({ store: store.push(), node: randomUUID(), log, ...timing }) : null;
  const hub = new Hub({ store, bus, options: config, log, metrics, ...timing, ...(presence ? { presence } : {}) });
  await hub.start();
  // Delivers what fell due while Herald was down at its first look, then as things fall due.
  const scheduler = new Scheduler({ store, bus, log, metrics, ...timing });
  const dueSweeper = new DueSweeper({ store, hub, log, ...timing });
  // The sender is made once the node's URL is known (its pushes link to the inbox page).
  let pushSender: PushSender | null = null;
  // A worker that runs no scheduler or sender wakes the one that does (src/cluster/).
  const runsSingletons = worker?.singletons ?? true;
  const publisher = new NotificationPublisher(store, bus, metrics, runsSingletons ? scheduler : { wake: (at) => worker?.wakeScheduler(at) }, {
    wake: () => (runsSingletons ? pushSender?.wake() : worker?.wakePush()),
  });
  const ingest = amqp ? startIngest(amqp, publisher, config, log) : null;
  const retention = new Retention(store.retention(), {
    retentionDays: config.retentionDays, idempotencyTtlHours: config.idempotencyTtlHours,
    batchSize: config.retentionBatchSize, intervalMs: config.retentionIntervalS * 1000, log, metrics, ...timing,
    // Every node's streams following those topics recount (this node's through the bus too).
    onRemoved: (removed) => void bus.publish({ kind: 'removed', notifications: removed }),
  });
  if (!overrides.manualBackground) {
    // The due sweeper and presence tell and record this process's own streams: every worker runs them.
    if (runsSingletons) scheduler.start();
    dueSweeper.start();
    if (runsSingletons) retention.start();
    presence?.start();
  }
  if (amqp) metrics.probes.queues = () => queueDepths(amqp, config);
  metrics.probes.writerHeap = async () => (await realStore.writerHeap?.()) ?? null;
  realStore.observeCommits?.(metrics.commitObserver);
  const authenticate = createAuthenticate(verifier, metrics);
  const tickets = createTicketService({
    ticketSecret: config.ticketSecret, jwtSecret: secret, ttlS: config.ticketTtlS,
    redeemOnce: (jti, expiresAtMs) => store.redeemOnce(jti, expiresAtMs),
  });
  if (!tickets.sharedKey) log.warn('stream tickets are signed with a per-process key: set HERALD_TICKET_SECRET so every node accepts them');
  const devSecret = config.devMode ? secret : null;
  const readTokens = vapid ? new ReadTokens(vapid.privateKey, () => (clock ?? Date).now()) : null;
  const app = await buildApp({
    config, store, bus, hub, publisher, metrics, log, authenticate, tickets,
    authenticateStream: createAuthenticateStream(authenticate, tickets, metrics),
    mintDevToken: devSecret ? (user) => mintToken(devSecret, { sub: user, scope: 'subscribe', ttlS: 12 * 3600 }) : null,
    webRoot: overrides.webRoot ?? WEB_ROOT,
    push: vapid && readTokens ? { publicKey: vapid.publicKey, readTokens, allowedOrigins: config.pushAllowedOrigins } : null,
  });
  await app.listen({ host: config.host, port: config.port }).catch(async (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    await store.close().catch(() => {});
    throw new ConfigError(`cannot listen on ${config.host}:${config.port}: another process holds it (another Herald?); stop it or set HERALD_PORT`);
  });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, port }, 'listening');
  if (vapid && readTokens) {
    pushSender = new PushSender({
      store, readTokens, metrics, log, ...timing,
      client: new PushClient({ timeoutMs: config.pushTimeoutMs, maxSockets: config.pushConcurrency, allowedOrigins: config.pushAllowedOrigins }),
      presence,
      options: {
        delayMs: config.pushDelayMs, ttlS: config.pushTtlS, concurrency: config.pushConcurrency, timeoutMs: config.pushTimeoutMs, vapid,
        inboxUrl: `${config.publicOrigin ?? url}/`,
      },
    });
    const pushStore = store.push();
    metrics.probes.push = async () => {
      const stats = await pushStore.stats();
      const oldest = stats.oldestCreatedAt === null ? null : Date.parse(stats.oldestCreatedAt);
      return { depth: stats.depth, subscriptions: stats.subscriptions, oldestAgeS: oldest === null ? 0 : Math.max(0, ((clock ?? Date).now() - oldest) / 1000) };
    };
    if (!overrides.manualBackground && runsSingletons) pushSender.start();
  }

  let shuttingDown: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      log.info({ streams: hub.size, drainMs: config.drainMs }, 'draining');
      // The whole window, streams or not: requests arriving meanwhile are refused with 503 and
      // `Connection: close` (app.ts), so kept-alive connections end after an answer rather
      // than being cut idle below while a client sends on them.
      await Promise.all([hub.drain(config.drainMs), delay(config.drainMs)]);
      await retention.close();
      // Requests in flight finish (a publish gets the answer to its commit); a connection
      // that is still busy after the grace is cut, so a stuck client cannot hold the exit.
      const cut = setTimeout(() => app.server.closeAllConnections(), config.streamCloseGraceMs);
      await app.close();
      clearTimeout(cut);
      await ingest?.close();
      await scheduler.close();
      await pushSender?.close();
      await dueSweeper.close();
      await hub.close();
      // The streams just closed are recorded as closed: pushes decided elsewhere see it.
      await presence?.close();
      databaseClock?.close();
      await bus.close();
      await amqp?.close();
      await realStore.close();
      log.info('stopped');
    })();
    return shuttingDown;
  };
  return { app, url, store, bus, hub, publisher, scheduler, dueSweeper, retention, metrics, pushSender, presence, shutdown };
}
