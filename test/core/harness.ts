// An in-process Herald for the core tests, put together by createHerald as `herald serve`
// is: the real app, hub, sessions and store (SQLite, in memory or in a file), a bus the test
// can steer, and a clock the test moves. The app
// listens on a random loopback port so streams are real sockets; other routes are injected.
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { mintToken } from '../../src/auth/jwt.js';
import type { Bus, BusHandlers, BusMessage } from '../../src/bus/bus.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { loadConfig } from '../../src/config.js';
import type { NotificationPublisher } from '../../src/ingest/publisher.js';
import { createLogger } from '../../src/log.js';
import { createHerald } from '../../src/main.js';
import type { Metrics } from '../../src/metrics.js';
import type { Scheduler } from '../../src/schedule/scheduler.js';
import type { DueSweeper } from '../../src/sse/due-sweeper.js';
import type { Hub } from '../../src/sse/hub.js';
import type { NotificationStore } from '../../src/store/store.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { openStream, type TestStream } from '../helpers/sse-client.js';

export const SECRET = 'core-test-secret-core-test-secret-0123456789';

/**
 * The in-process bus with a hand on it: a filter decides per message whether it is
 * delivered now, dropped (a broker losing it) or held until `release()`.
 */
export class SteeredBus implements Bus {
  readonly #inner = new MemoryBus();
  #handlers: BusHandlers | null = null;
  filter: (message: BusMessage) => 'deliver' | 'drop' | 'hold' = () => 'deliver';
  readonly held: BusMessage[] = [];

  async start(handlers: BusHandlers): Promise<void> {
    this.#handlers = handlers;
    await this.#inner.start(handlers);
  }

  async publish(message: BusMessage): Promise<void> {
    const verdict = this.filter(message);
    if (verdict === 'hold') this.held.push(message);
    else if (verdict === 'deliver') await this.#inner.publish(message);
  }

  /** Delivers the held messages, in the order given (default: as held). */
  release(order: (held: BusMessage[]) => BusMessage[] = (held) => held): void {
    const messages = order(this.held.splice(0));
    for (const message of messages) this.#handlers?.onMessage(message);
  }

  /** What the RabbitMQ bus does after a reconnect. */
  resync(): void {
    this.#handlers?.onResync();
  }

  isReady(): boolean {
    return true;
  }

  async close(): Promise<void> {
    await this.#inner.close();
  }
}

/** The store with some methods replaced (private fields stay on the real object). */
export function overrideStore(store: NotificationStore, overrides: Partial<NotificationStore>): NotificationStore {
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return (overrides as Record<string | symbol, unknown>)[prop];
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A promise the test resolves when it wants: holds a store call in place. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

export interface CoreOptions {
  env?: Record<string, string>;
  /** SQLite file (default: in memory). */
  databasePath?: string;
  wrapStore?(store: NotificationStore): NotificationStore;
}

export interface CoreHerald {
  url: string;
  app: FastifyInstance;
  hub: Hub;
  store: NotificationStore;
  bus: SteeredBus;
  clock: ManualClock;
  metrics: Metrics;
  publisher: NotificationPublisher;
  /** Not started: tests call `tick()` after moving the clock. */
  scheduler: Scheduler;
  /** Not started: tests call `sweep()` after moving the clock. */
  dueSweeper: DueSweeper;
  token(user: string, claims?: { groups?: string[]; scope?: string; ttlS?: number }): Promise<string>;
  /** POST /v1/notifications as `publisher` (publish scope); returns status and body. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  publish(body: Record<string, unknown>): Promise<{ status: number; body: any }>;
  /** An authenticated request through app.inject. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, token: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** The value of one metric sample in /metrics text, 0 when absent. */
  metric(name: string, labels?: string): Promise<number>;
  close(): Promise<void>;
}

export async function startCore(options: CoreOptions = {}): Promise<CoreHerald> {
  const config = loadConfig({
    HERALD_JWT_SECRET: SECRET,
    HERALD_DATABASE_URL: options.databasePath ?? ':memory:',
    HERALD_HOST: '127.0.0.1',
    HERALD_PORT: '0',
    HERALD_LOG_LEVEL: 'silent',
    HERALD_DEV_MODE: 'false',
    HERALD_DRAIN_MS: '0',
    HERALD_JWT_CLOCK_TOLERANCE_S: '0',
    ...options.env,
  });
  const clock = new ManualClock(Date.now());
  const bus = new SteeredBus();
  // Herald as `herald serve` puts it together, with the clock and the bus in the test's hands
  // and the background loops run by hand (scheduler.tick(), dueSweeper.sweep()).
  const herald = await createHerald(config, {
    clock, bus, manualBackground: true, log: createLogger('silent'), webRoot: '/nonexistent',
    ...(options.wrapStore ? { wrapStore: options.wrapStore } : {}),
  });
  const { app, url, hub, store, metrics, publisher, scheduler, dueSweeper } = herald;
  const publisherToken = await mintToken(SECRET, { sub: 'publisher', scope: 'publish', ttlS: 3600 });

  const request: CoreHerald['request'] = async (method, path, token, body) => {
    const res = await app.inject({
      method, url: path, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
  };
  return {
    url, app, hub, store, bus, clock, metrics, publisher, scheduler, dueSweeper,
    token: (user, claims = {}) => mintToken(SECRET, { sub: user, scope: claims.scope ?? 'subscribe', groups: claims.groups, ttlS: claims.ttlS ?? 3600 }),
    publish: (body) => request('POST', '/v1/notifications', publisherToken, body),
    request,
    async metric(name, labels = '') {
      const text = await metrics.registry.metrics();
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
      return line ? Number(line.split(' ').pop()) : 0;
    },
    close: () => herald.shutdown(),
  };
}

/** A token for `user` and an open stream of theirs that has had its `ready`; closed when the test ends. */
export async function readyStream(t: TestContext, herald: CoreHerald, user: string): Promise<{ token: string; stream: TestStream }> {
  const token = await herald.token(user);
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  return { token, stream };
}
