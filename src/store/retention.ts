// Retention: the database must not grow forever. Old notifications (with every user's
// read/seen/archived state for them), old idempotency keys and expired stream tickets are
// deleted in small batches in the background. Each batch is its own short transaction,
// followed by a pause as long as the batch took, so publishing (which needs the same
// tables, and on SQLite the single writer) never waits for more than one batch. In a
// cluster one node at a time purges: on PostgreSQL an advisory lock elects it, on SQLite
// a lease row in herald_meta (processes sharing the file).
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { RemovedNotification } from '../bus/bus.js';
import type { Logger } from '../log.js';
import type { Clock } from '../domain/clock.js';
import type { Metrics } from '../metrics.js';
import type { Dialect } from './migrations.js';
import type { Database } from './schema.js';
import type { StoreWrites } from './writes.js';

/** What a batch of notifications purged: how many, and which (streams following their topics are told). */
export interface PurgedNotifications {
  notifications: number;
  states: number;
  removed: RemovedNotification[];
}

/** Batched deletes behind retention; each call is one short transaction. */
export interface RetentionStore {
  /** Deletes up to `limit` of the oldest notifications created before `cutoff`, with their per-user state. */
  purgeNotifications(cutoff: Date, limit: number): Promise<PurgedNotifications>;
  /** Forgets up to `limit` idempotency keys recorded before `cutoff`. */
  purgeIdempotencyKeys(cutoff: Date, limit: number): Promise<number>;
  /** Deletes up to `limit` redeemed stream tickets that expired before `nowMs`. */
  purgeExpiredTickets(nowMs: number, limit: number): Promise<number>;
  /** Deletes up to `limit` ended push subscriptions (with their queued pushes) and as many stale presence rows. */
  purgePush(now: Date, limit: number): Promise<number>;
  /** Runs `fn` while this node holds the cluster-wide retention lock; null, without running it, when another node holds it. */
  exclusively<T>(fn: () => Promise<T>): Promise<T | null>;
}

// Any constant works; it only has to be the same on every node (pg advisory lock key space).
const ADVISORY_LOCK_KEY = 0x4865_7261; // "Hera"
/** A SQLite lease outlives a crashed holder by this long at most. */
const LEASE_MS = 10 * 60_000;

/**
 * Retention's batches go where the store's other writes go (on a SQLite file, the writer
 * thread); PostgreSQL's cluster-wide lock is a session lock on a connection of this one.
 */
export class KyselyRetentionStore implements RetentionStore {
  readonly #owner = randomUUID();

  readonly #db: Kysely<Database>;
  readonly #dialect: Dialect;
  readonly #writes: StoreWrites;

  constructor(db: Kysely<Database>, dialect: Dialect, writes: StoreWrites) {
    this.#db = db;
    this.#dialect = dialect;
    this.#writes = writes;
  }

  purgeNotifications(cutoff: Date, limit: number): Promise<PurgedNotifications> {
    return this.#writes.purgeNotifications(cutoff.toISOString(), limit);
  }

  purgeIdempotencyKeys(cutoff: Date, limit: number): Promise<number> {
    return this.#writes.purgeIdempotencyKeys(cutoff.toISOString(), limit);
  }

  purgeExpiredTickets(nowMs: number, limit: number): Promise<number> {
    return this.#writes.purgeExpiredTickets(nowMs, limit);
  }

  purgePush(now: Date, limit: number): Promise<number> {
    // Presence is asked about for a push's delay: a day old, no push asks any more.
    return this.#writes.purgePush(now.toISOString(), new Date(now.getTime() - DAY_MS).toISOString(), limit);
  }

  async exclusively<T>(fn: () => Promise<T>): Promise<T | null> {
    if (this.#dialect === 'postgres') {
      // A session lock on a connection held for the whole pass: released by the unlock, or
      // by PostgreSQL itself when a crashed node's connection drops.
      return this.#db.connection().execute(async (conn) => {
        const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${ADVISORY_LOCK_KEY}) as locked`.execute(conn);
        if (!rows[0]?.locked) return null;
        try {
          return await fn();
        } finally {
          await sql`select pg_advisory_unlock(${ADVISORY_LOCK_KEY})`.execute(conn);
        }
      });
    }
    if (!(await this.#writes.takeRetentionLease(this.#owner, Date.now(), LEASE_MS))) return null;
    try {
      return await fn();
    } finally {
      await this.#writes.releaseRetentionLease(this.#owner);
    }
  }
}

export interface RetentionOptions {
  /** Notifications older than this are deleted; 0 keeps everything. */
  retentionDays: number;
  /** Idempotency keys older than this are forgotten; 0 keeps them. */
  idempotencyTtlHours: number;
  /** Rows per batch. */
  batchSize: number;
  /** Pause between passes, ms. */
  intervalMs: number;
  log: Logger;
  metrics: Metrics;
  /** Told after each batch which notifications it deleted (unread ones are in open streams' counts). */
  onRemoved?: (removed: RemovedNotification[]) => void;
  /** Cutoffs are counted back from this clock's now (default: this machine's). */
  clock?: Clock;
}

export interface RetentionPass {
  notifications: number;
  states: number;
  idempotencyKeys: number;
  tickets: number;
  /** Ended push subscriptions and stale presence rows. */
  push: number;
  batches: number;
}

const DAY_MS = 24 * 3600_000;

/** The background worker: one pass at start, then one every `intervalMs`. */
export class Retention {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #closed = false;

  readonly #store: RetentionStore;
  readonly #options: RetentionOptions;

  constructor(
    store: RetentionStore,
    options: RetentionOptions,
  ) {
    this.#store = store;
    this.#options = options;
  }

  start(): void {
    const tick = (): void => {
      this.#running = this.runOnce().catch((err: unknown) => this.#options.log.warn({ err }, 'retention pass failed; retrying at the next interval'))
        .finally(() => {
          this.#running = null;
          if (!this.#closed) this.#timer = setTimeout(tick, this.#options.intervalMs).unref();
        });
    };
    // A little later than the start, so a restarting cluster does not purge while it warms up.
    this.#timer = setTimeout(tick, Math.min(this.#options.intervalMs, 30_000)).unref();
  }

  /** One full pass, batch after batch; null when another node holds the lock. */
  async runOnce(now: Date = new Date(this.#options.clock?.now() ?? Date.now())): Promise<RetentionPass | null> {
    const { retentionDays, idempotencyTtlHours, batchSize, metrics } = this.#options;
    const pass = await this.#store.exclusively(async () => {
      const done: RetentionPass = { notifications: 0, states: 0, idempotencyKeys: 0, tickets: 0, push: 0, batches: 0 };
      if (retentionDays > 0) {
        const cutoff = new Date(now.getTime() - retentionDays * DAY_MS);
        await this.#drain(done, async () => {
          const n = await this.#store.purgeNotifications(cutoff, batchSize);
          if (n.removed.length > 0) this.#options.onRemoved?.(n.removed);
          done.notifications += n.notifications;
          done.states += n.states;
          metrics.retentionDeleted.inc({ kind: 'notifications' }, n.notifications);
          metrics.retentionDeleted.inc({ kind: 'states' }, n.states);
          return n.notifications;
        });
      }
      if (idempotencyTtlHours > 0) {
        const cutoff = new Date(now.getTime() - idempotencyTtlHours * 3600_000);
        await this.#drain(done, async () => {
          const n = await this.#store.purgeIdempotencyKeys(cutoff, batchSize);
          done.idempotencyKeys += n;
          metrics.retentionDeleted.inc({ kind: 'idempotency_keys' }, n);
          return n;
        });
      }
      await this.#drain(done, async () => {
        const n = await this.#store.purgeExpiredTickets(now.getTime(), batchSize);
        done.tickets += n;
        metrics.retentionDeleted.inc({ kind: 'tickets' }, n);
        return n;
      });
      await this.#drain(done, async () => {
        const n = await this.#store.purgePush(now, batchSize);
        done.push += n;
        metrics.retentionDeleted.inc({ kind: 'push' }, n);
        return n;
      });
      return done;
    });
    if (pass) {
      metrics.retentionLastSuccess.set(Date.now() / 1000);
      if (pass.notifications + pass.idempotencyKeys + pass.tickets + pass.push > 0) this.#options.log.info({ retention: pass }, 'retention pass finished');
    }
    return pass;
  }

  /** Repeats `batch` until it deletes less than a full batch, pausing as long as each took. */
  async #drain(done: RetentionPass, batch: () => Promise<number>): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const started = performance.now();
      const deleted = await batch();
      done.batches++;
      if (deleted < this.#options.batchSize) return;
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, performance.now() - started)));
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}
