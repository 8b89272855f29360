// The SQLite writer run on its own thread (sqlite-worker.ts), seen from the server: batches
// of publishes, and the store's other writes (src/store/writes.ts) as calls.
import { Worker } from 'node:worker_threads';
import { HeraldError, type ErrorCode } from '../errors.js';
import type { BatchWriter, Outcome } from './group-commit.js';
import { newNotification, targetsOf } from './rows.js';
import type { PushQueueing } from './publish-plan.js';
import type { PublishRequest, PublishResult, TopicEvent, WriterHeap } from './store.js';
import type { WriteMethod } from './writes.js';

export type WriterRequest =
  | { kind: 'write'; id: number; requests: readonly PublishRequest[] }
  | { kind: 'call'; id: number; method: WriteMethod; args: unknown[] }
  | { kind: 'heap'; id: number }
  | { kind: 'close' };
/** `errcode`: node:sqlite's SQLite result code, what tells a lock from a bad row there. */
export type WireError = { herald: boolean; code: string | undefined; errcode?: number; message: string };
/**
 * What a new publish wrote, without the notifications: the server rebuilds those from its
 * own request (cloning 1000 notification objects across threads cost more than the write).
 */
type Written = { createdAt: string; ids: string[]; seqs: number[]; suppressed: string[] };
export type WireOutcome = { ok: true; value: PublishResult } | { ok: true; written: Written } | { ok: false; error: WireError };
export type WriterAnswer = { id: number; outcomes: WireOutcome[] } | { id: number; value: unknown } | { id: number; error: WireError };

/** Errors cross threads as data; the code is what callers decide on (409, 503 for SQLITE_BUSY). */
export function encodeError(err: unknown): WireError {
  if (err instanceof HeraldError) return { herald: true, code: err.code, message: err.message };
  const { code, errcode } = (err ?? {}) as { code?: unknown; errcode?: unknown };
  return {
    herald: false, code: typeof code === 'string' ? code : undefined, ...(typeof errcode === 'number' ? { errcode } : {}),
    message: err instanceof Error ? err.message : String(err),
  };
}

export function decodeError(wire: WireError): Error {
  if (wire.herald) return new HeraldError(wire.code as ErrorCode, wire.message);
  return Object.assign(new Error(wire.message), wire.code === undefined ? {} : { code: wire.code }, wire.errcode === undefined ? {} : { errcode: wire.errcode });
}

export function encodeOutcomes(outcomes: Outcome<PublishResult>[]): WireOutcome[] {
  return outcomes.map((o): WireOutcome => {
    if (!o.ok) return { ok: false, error: encodeError(o.error) };
    // A replay's rows were read back from the table: only they travel whole (rare).
    if (o.value.replayed) return o;
    const events = o.value.events;
    return {
      ok: true,
      written: {
        createdAt: events[0]?.notification.created_at ?? '',
        ids: events.map((e) => e.notification.id),
        seqs: events.map((e) => e.seq),
        suppressed: o.value.suppressed ?? [],
      },
    };
  });
}

export function decodeOutcome(wire: WireOutcome, request: PublishRequest): Outcome<PublishResult> {
  if (!wire.ok) return { ok: false, error: decodeError(wire.error) };
  return 'written' in wire ? { ok: true, value: rebuild(request, wire.written) } : wire;
}

/** The events a new publish wrote, as the writer built them (planPublish, writtenRows): same targets, same data. */
function rebuild(request: PublishRequest, written: Written): PublishResult {
  const muted = new Set(written.suppressed);
  const kept = muted.size === 0 ? request : { ...request, recipients: (request.recipients ?? []).filter((r) => !muted.has(r)) };
  const targets = written.ids.length === 0 ? [] : targetsOf(kept);
  // Parsed from its JSON text as the writer does, so a reader gets exactly what was stored.
  const data = request.data === null ? null : (JSON.parse(JSON.stringify(request.data)) as Record<string, unknown>);
  const events = targets.map(({ topic, recipient }, i): TopicEvent => ({
    topic,
    seq: written.seqs[i] as number,
    notification: newNotification(written.ids[i] as string, recipient, topic, request, data, written.createdAt),
  }));
  return { events, replayed: false, suppressed: written.suppressed };
}

/** A request another process hands on to the thread as it came (src/cluster/write-relay.ts). */
export type RelayedRequest =
  | { kind: 'write'; requests: readonly PublishRequest[] }
  | { kind: 'call'; method: WriteMethod; args: unknown[] }
  | { kind: 'heap' };
/** The thread's answer to a relayed request, undecoded (the asking process decodes it). */
export type RelayedAnswer = { outcomes: WireOutcome[] } | { value: unknown } | { error: WireError };

/**
 * The writer as the store sees it when it is not on this process's own thread: publish
 * batches, the other writes as calls, and the thread's heap (SqliteThreadWriter, WriteRelay).
 */
export interface RemoteWriter extends BatchWriter<PublishRequest, PublishResult> {
  call(method: WriteMethod, args: unknown[]): Promise<unknown>;
  heap(): Promise<WriterHeap>;
}

/** Starts the writer thread; tests pass their own to reach the thread. */
export type SpawnWriter = (path: string, synchronous: 'full' | 'normal', push: PushQueueing | null) => Worker;

/** What the thread is started with (sqlite-worker.ts reads it). */
export interface WriterData {
  path: string;
  synchronous: 'full' | 'normal';
  /** How new notifications feed the push queue; null: push is off. */
  push: PushQueueing | null;
}

const spawnWorker: SpawnWriter = (path, synchronous, push) =>
  new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: { path, synchronous, push } satisfies WriterData });

/** Waits before starting a thread again after one died: doubling from the first, up to the last. */
const RESTART_DELAYS_MS = { first: 100, max: 5000 };

/** A request in flight: `settle` takes the thread's answer (the error case is handled before). */
type Pending = { settle(answer: Exclude<WriterAnswer, { error: WireError }>): void; reject(err: Error): void };

/**
 * Writes to a SQLite file commit on a thread with its own connection: waiting for the
 * write lock and a commit's fsync happen there, and the event loop that parses requests
 * and delivers to streams goes on meanwhile. Publish batches go one at a time (the group
 * commit waits for each); other writes are calls that the thread's connection serializes.
 *
 * A thread that dies (a native crash, an out-of-memory) is started again after a short,
 * growing delay. Writes in flight then answer `unavailable` (503; the queue retries them:
 * whether their transaction committed is unknown, which idempotency keys settle), as do
 * writes until the new thread runs; `healthy` says which, for /readyz.
 */
export class SqliteThreadWriter implements RemoteWriter {
  readonly #path: string;
  readonly #synchronous: 'full' | 'normal';
  readonly #spawn: SpawnWriter;
  readonly #push: PushQueueing | null;
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #closing = false;
  #restartDelayMs = RESTART_DELAYS_MS.first;
  #restartTimer: NodeJS.Timeout | null = null;
  #exited: Promise<void> = Promise.resolve();

  constructor(path: string, synchronous: 'full' | 'normal', spawn: SpawnWriter = spawnWorker, push: PushQueueing | null = null) {
    this.#path = path;
    this.#synchronous = synchronous;
    this.#spawn = spawn;
    this.#push = push;
    this.#start();
  }

  /** False while no writer thread runs (between a crash and its restart). */
  get healthy(): boolean {
    return this.#worker !== null;
  }

  #start(): void {
    this.#restartTimer = null;
    const worker = this.#spawn(this.#path, this.#synchronous, this.#push);
    this.#worker = worker;
    // Only a write in flight keeps the process alive, as a query on a socket would.
    worker.unref();
    worker.on('message', (answer: WriterAnswer) => {
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      this.#pending.delete(answer.id);
      if (this.#pending.size === 0) worker.unref();
      this.#restartDelayMs = RESTART_DELAYS_MS.first;
      if ('error' in answer) pending.reject(decodeError(answer.error));
      else pending.settle(answer);
    });
    // An 'error' (an exception the thread did not catch) is followed by 'exit'.
    worker.on('error', () => {});
    this.#exited = new Promise((resolve) => {
      worker.once('exit', () => {
        this.#worker = null;
        this.#rejectPending(new HeraldError('unavailable', 'The SQLite writer thread stopped while writing; retry (with the same idempotency key).'));
        if (!this.#closing) this.#scheduleRestart();
        resolve();
      });
    });
  }

  #scheduleRestart(): void {
    const delay = this.#restartDelayMs;
    this.#restartDelayMs = Math.min(delay * 2, RESTART_DELAYS_MS.max);
    this.#restartTimer = setTimeout(() => this.#start(), delay);
    this.#restartTimer.unref();
  }

  #rejectPending(err: Error): void {
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
  }

  write(requests: readonly PublishRequest[]): Promise<Outcome<PublishResult>[]> {
    return this.#send((id) => ({ kind: 'write', id, requests }), (answer) => {
      if (!('outcomes' in answer)) throw new Error('the writer thread answered a batch with a value');
      return answer.outcomes.map((outcome, i) => decodeOutcome(outcome, requests[i] as PublishRequest));
    });
  }

  /** Runs one of the store's other writes (writes.ts) on the thread. */
  call(method: WriteMethod, args: unknown[]): Promise<unknown> {
    return this.#send((id) => ({ kind: 'call', id, method, args }), (answer) => ('value' in answer ? answer.value : undefined));
  }

  #send<T>(request: (id: number) => WriterRequest, decode: (answer: Exclude<WriterAnswer, { error: WireError }>) => T): Promise<T> {
    const worker = this.#worker;
    if (this.#closing) return Promise.reject(new HeraldError('unavailable', 'The store is closing.'));
    if (!worker) return Promise.reject(new HeraldError('unavailable', 'The SQLite writer thread is restarting; retry shortly.', 1));
    return new Promise((resolve, reject) => {
      const id = this.#next++;
      this.#pending.set(id, {
        settle: (answer) => {
          try {
            resolve(decode(answer));
          } catch (err) {
            reject(err as Error);
          }
        },
        reject,
      });
      worker.ref();
      worker.postMessage(request(id));
    });
  }

  /**
   * Hands a worker process's request to the thread as it came and answers the thread's
   * answer undecoded: the worker rebuilds the notifications from its own requests, as
   * write() does here. A failure of the thread itself (restarting, closing) answers as an
   * error too, so the worker's caller sees the same `unavailable` it would see here.
   */
  relay(request: RelayedRequest): Promise<RelayedAnswer> {
    const undecoded = (answer: Exclude<WriterAnswer, { error: WireError }>): RelayedAnswer =>
      ('outcomes' in answer ? { outcomes: answer.outcomes } : { value: answer.value });
    return this.#send((id) => ({ ...request, id }), undecoded).catch((err: unknown) => ({ error: encodeError(err) }));
  }

  /** The thread's V8 heap (asked on its message queue, so it waits behind a write in progress). */
  heap(): Promise<WriterHeap> {
    return this.#send((id) => ({ kind: 'heap', id }), (answer) => ('value' in answer ? answer.value as WriterHeap : { used: NaN, total: NaN }));
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const worker = this.#worker;
    if (worker) {
      worker.postMessage({ kind: 'close' } satisfies WriterRequest);
      worker.ref();
    }
    await this.#exited;
  }
}
