import { Emitter } from './emitter.js';
import { RecentIds } from './recent-ids.js';
import { HeraldStream, type HeraldStreamOptions } from './stream.js';
import {
  HeraldError,
  type NotificationStream,
  type StreamEventMap,
  type StreamEventName,
  type StreamState,
} from './types.js';

export interface SharedStreamOptions extends HeraldStreamOptions {
  /**
   * Tabs with the same key share one stream; use the user id, so two users signed in
   * on one origin never share. Names the Web Lock `herald-stream-<key>` and the channel.
   */
  key: string;
  /** Default `navigator.locks`. */
  locks?: LockManager;
  /** Default `new BroadcastChannel(name)`. */
  createChannel?: (name: string) => BroadcastChannel;
}

type RelayedEventName = Exclude<StreamEventName, 'state'>;

/** What the leader tab posts on the channel; followers post only `hello`. */
type RelayMessage =
  | { kind: 'hello' }
  | { kind: 'state'; state: StreamState; cursor: string | undefined }
  | { kind: 'event'; name: RelayedEventName; payload: unknown; cursor: string | undefined };

/** Every stream event but `state` crosses to the other tabs; the record makes the compiler insist on each. */
const RELAYED = Object.keys({
  notification: true,
  'notification.updated': true,
  'notification.expired': true,
  'preferences.updated': true,
  reset: true,
  ready: true,
  error: true,
} satisfies Record<RelayedEventName, true>) as RelayedEventName[];

/** True where tabs can share a stream: Web Locks and BroadcastChannel both exist. */
export function canShareAcrossTabs(): boolean {
  const nav = (globalThis as { navigator?: { locks?: LockManager } }).navigator;
  return typeof nav?.locks?.request === 'function' && typeof globalThis.BroadcastChannel === 'function';
}

/**
 * One stream for all tabs of an origin and user. Every tab asks for the same Web Lock;
 * the tab that holds it (the leader) runs a `HeraldStream` and relays its events, state
 * and cursor over a BroadcastChannel. The lock is held until the tab closes; the browser
 * then grants it to a waiting tab, which resumes from the last cursor relayed to it.
 * Browsers allow ~6 HTTP/1.1 connections per origin across all tabs, so without this the
 * seventh tab would hang.
 */
export class SharedHeraldStream implements NotificationStream {
  readonly #emitter = new Emitter<StreamEventMap>();
  readonly #options: SharedStreamOptions;
  readonly #seen: RecentIds;
  #state: StreamState = 'closed';
  #cursor: string | undefined;
  #role: 'idle' | 'follower' | 'leader' = 'idle';
  #channel: BroadcastChannel | undefined;
  #inner: HeraldStream | undefined;
  #releaseLock: (() => void) | undefined;

  constructor(options: SharedStreamOptions) {
    this.#options = options;
    this.#cursor = options.cursor;
    this.#seen = new RecentIds(options.dedupeSize ?? 1000);
  }

  get state(): StreamState {
    return this.#state;
  }

  get cursor(): string | undefined {
    return this.#cursor;
  }

  /** Whether this tab currently holds the stream. */
  get isLeader(): boolean {
    return this.#role === 'leader';
  }

  on<K extends StreamEventName>(name: K, listener: (event: StreamEventMap[K]) => void): () => void {
    return this.#emitter.on(name, listener);
  }

  start(): void {
    if (this.#role !== 'idle') return;
    const { key } = this.#options;
    const locks = this.#options.locks ?? (globalThis.navigator as Navigator).locks;
    const createChannel = this.#options.createChannel ?? ((name: string) => new BroadcastChannel(name));
    this.#role = 'follower';
    this.#setState('connecting');
    const channel = createChannel(`herald-stream-${key}`);
    this.#channel = channel;
    channel.onmessage = (message: MessageEvent<RelayMessage>) => this.#receive(message.data);
    channel.postMessage({ kind: 'hello' } satisfies RelayMessage);
    const held = new Promise<void>((resolve) => {
      this.#releaseLock = resolve;
    });
    locks
      .request(`herald-stream-${key}`, () => {
        if (this.#role === 'idle') return undefined; // closed while waiting
        this.#lead();
        return held;
      })
      .catch((err: unknown) => {
        this.#emitter.emit('error', new HeraldError('lock_failed', `web lock failed: ${String(err)}`));
      });
  }

  close(): void {
    if (this.#role === 'idle') return;
    this.#role = 'idle';
    this.#inner?.close();
    this.#inner = undefined;
    this.#channel?.close();
    this.#channel = undefined;
    this.#releaseLock?.();
    this.#releaseLock = undefined;
    this.#setState('closed');
  }

  #lead(): void {
    this.#role = 'leader';
    const inner = new HeraldStream({ ...this.#options, cursor: this.#cursor });
    this.#inner = inner;
    for (const name of RELAYED) {
      inner.on(name, (payload) => {
        this.#cursor = inner.cursor;
        const wire = payload instanceof HeraldError ? errorToWire(payload) : payload;
        this.#post({ kind: 'event', name, payload: wire, cursor: this.#cursor });
        this.#deliver(name, payload);
      });
    }
    inner.on('state', ({ newState }) => {
      this.#cursor = inner.cursor;
      this.#setState(this.#takeoverState(newState));
      this.#post({ kind: 'state', state: this.#state, cursor: this.#cursor });
    });
    inner.start();
  }

  /** A tab taking over an open stream is resuming, not connecting for the first time. */
  #takeoverState(state: StreamState): StreamState {
    return state === 'connecting' && this.#state !== 'connecting' && this.#state !== 'closed' ? 'reconnecting' : state;
  }

  #receive(message: RelayMessage): void {
    if (this.#role === 'leader') {
      if (message.kind === 'hello') this.#post({ kind: 'state', state: this.#state, cursor: this.#cursor });
      return;
    }
    if (this.#role !== 'follower') return;
    if (message.kind === 'state') {
      this.#cursor = message.cursor ?? this.#cursor;
      this.#setState(message.state);
    } else if (message.kind === 'event') {
      this.#cursor = message.cursor ?? this.#cursor;
      const payload = message.name === 'error' ? errorFromWire(message.payload) : message.payload;
      this.#deliver(message.name, payload as StreamEventMap[RelayedEventName]);
    }
  }

  #deliver<K extends RelayedEventName>(name: K, payload: StreamEventMap[K]): void {
    if (name === 'notification') {
      // A new leader resumes from the cursor this tab last saw; never show an item twice.
      if (!this.#seen.add((payload as StreamEventMap['notification']).id)) return;
    }
    this.#emitter.emit(name, payload);
  }

  #post(message: RelayMessage): void {
    try {
      this.#channel?.postMessage(message);
    } catch {
      // The channel closes with the tab; nothing to relay to then.
    }
  }

  #setState(newState: StreamState): void {
    const oldState = this.#state;
    if (oldState === newState) return;
    this.#state = newState;
    this.#emitter.emit('state', { oldState, newState });
  }
}

function errorToWire(error: HeraldError): { code: string; message: string; status: number | undefined } {
  return { code: error.code, message: error.message, status: error.status };
}

function errorFromWire(wire: unknown): HeraldError {
  const { code, message, status } = wire as { code: string; message: string; status?: number };
  return new HeraldError(code, message, status);
}
