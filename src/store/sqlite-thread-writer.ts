// The SQLite publish writer run on its own thread (sqlite-worker.ts), seen from the server.
import { Worker } from 'node:worker_threads';
import { HeraldError, type ErrorCode } from '../errors.js';
import type { BatchWriter, Outcome } from './group-commit.js';
import { newNotification, targetsOf } from './rows.js';
import type { PublishRequest, PublishResult, TopicEvent } from './store.js';

export type WriterRequest = { kind: 'write'; id: number; requests: readonly PublishRequest[] } | { kind: 'close' };
/** `errcode`: node:sqlite's SQLite result code, what tells a lock from a bad row there. */
type WireError = { herald: boolean; code: string | undefined; errcode?: number; message: string };
/**
 * What a new publish wrote, without the notifications: the server rebuilds those from its
 * own request (cloning 1000 notification objects across threads cost more than the write).
 */
type Written = { createdAt: string; ids: string[]; seqs: number[]; suppressed: string[] };
type WireOutcome = { ok: true; value: PublishResult } | { ok: true; written: Written } | { ok: false; error: WireError };
type WriterAnswer = { id: number; outcomes: WireOutcome[] } | { id: number; error: WireError };

/** Errors cross threads as data; the code is what callers decide on (409, 503 for SQLITE_BUSY). */
export function encodeError(err: unknown): WireError {
  if (err instanceof HeraldError) return { herald: true, code: err.code, message: err.message };
  const { code, errcode } = (err ?? {}) as { code?: unknown; errcode?: unknown };
  return {
    herald: false, code: typeof code === 'string' ? code : undefined, ...(typeof errcode === 'number' ? { errcode } : {}),
    message: err instanceof Error ? err.message : String(err),
  };
}

function decodeError(wire: WireError): Error {
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

function decodeOutcome(wire: WireOutcome, request: PublishRequest): Outcome<PublishResult> {
  if (!wire.ok) return { ok: false, error: decodeError(wire.error) };
  return 'written' in wire ? { ok: true, value: rebuild(request, wire.written) } : wire;
}

/** The events a new publish wrote, as the writer built them (sqlite-writer.ts): same targets, same data. */
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

/**
 * Publishes of a SQLite file commit on a thread with its own connection: a batch's commit
 * waits for its fsync there, and the event loop that parses requests and delivers to
 * streams goes on meanwhile. Batches go one at a time (the group commit waits for each).
 */
export class SqliteThreadWriter implements BatchWriter<PublishRequest, PublishResult> {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { requests: readonly PublishRequest[]; resolve(outcomes: Outcome<PublishResult>[]): void; reject(err: Error): void }>();
  #next = 0;
  #gone: Error | null = null;
  readonly #exited: Promise<void>;

  constructor(path: string, synchronous: 'full' | 'normal') {
    this.#worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: { path, synchronous } });
    // Only a write in flight keeps the process alive, as a query on a socket would.
    this.#worker.unref();
    this.#worker.on('message', (answer: WriterAnswer) => {
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      this.#pending.delete(answer.id);
      if (this.#pending.size === 0) this.#worker.unref();
      if ('error' in answer) pending.reject(decodeError(answer.error));
      else pending.resolve(answer.outcomes.map((outcome, i) => decodeOutcome(outcome, pending.requests[i] as PublishRequest)));
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', () => {
        this.#fail(new Error('the SQLite writer thread has stopped'));
        resolve();
      });
    });
  }

  #fail(err: Error): void {
    this.#gone ??= err;
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
  }

  write(requests: readonly PublishRequest[]): Promise<Outcome<PublishResult>[]> {
    if (this.#gone) return Promise.reject(this.#gone);
    return new Promise((resolve, reject) => {
      const id = this.#next++;
      this.#pending.set(id, { requests, resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ kind: 'write', id, requests } satisfies WriterRequest);
    });
  }

  async close(): Promise<void> {
    if (!this.#gone) this.#worker.postMessage({ kind: 'close' } satisfies WriterRequest);
    this.#worker.ref();
    await this.#exited;
  }
}
