// A worker's SQLite writer in embedded mode with HERALD_WORKERS > 1: every write goes to
// the primary, which hands it to its one writer thread and sends back the thread's answer
// undecoded. The worker decodes it exactly as SqliteThreadWriter does for its own thread,
// so the store above cannot tell the difference. Sequences, idempotency keys and the group
// commit stay in one place, and no worker ever waits on SQLite's write lock.
import { HeraldError } from '../errors.js';
import type { Outcome } from '../store/group-commit.js';
import { decodeError, decodeOutcome, type RelayedAnswer, type RelayedRequest, type RemoteWriter } from '../store/sqlite-thread-writer.js';
import type { PublishRequest, PublishResult, WriterHeap } from '../store/store.js';
import type { WriteMethod } from '../store/writes.js';
import { Requests, type PrimaryChannel } from './channel.js';

export class WriteRelay implements RemoteWriter {
  readonly #channel: PrimaryChannel;
  readonly #requests = new Requests<RelayedAnswer>(() => new HeraldError('unavailable', 'This worker lost its primary while writing; retry (with the same idempotency key).'));

  constructor(channel: PrimaryChannel) {
    this.#channel = channel;
    channel.on('herald:written', (message) => this.#requests.answered(message.id, message.answer));
  }

  /** False once the primary (and its writer) is gone. */
  get healthy(): boolean {
    return this.#channel.connected;
  }

  async write(requests: readonly PublishRequest[]): Promise<Outcome<PublishResult>[]> {
    const answer = await this.#relay({ kind: 'write', requests });
    if (!('outcomes' in answer)) throw new Error('the writer answered a batch with a value');
    return answer.outcomes.map((outcome, i) => decodeOutcome(outcome, requests[i] as PublishRequest));
  }

  async call(method: WriteMethod, args: unknown[]): Promise<unknown> {
    const answer = await this.#relay({ kind: 'call', method, args });
    return 'value' in answer ? answer.value : undefined;
  }

  async heap(): Promise<WriterHeap> {
    const answer = await this.#relay({ kind: 'heap' });
    return 'value' in answer ? answer.value as WriterHeap : { used: NaN, total: NaN };
  }

  /** The writer is the primary's: it outlives this worker. */
  async close(): Promise<void> {}

  async #relay(request: RelayedRequest): Promise<Exclude<RelayedAnswer, { error: unknown }>> {
    if (!this.#channel.connected) throw new HeraldError('unavailable', 'This worker lost its primary; retry.', 1);
    const answer = await this.#requests.ask((id) => this.#channel.send({ t: 'herald:write', id, request }));
    if ('error' in answer) throw decodeError(answer.error);
    return answer;
  }
}
