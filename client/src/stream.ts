import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { Backoff, parseRetryAfter, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { networkError } from './network-error.js';
import { RecentIds } from './recent-ids.js';
import {
  HeraldError,
  systemClock,
  type Clock,
  type NotificationEvent,
  type NotificationExpiredEvent,
  type NotificationStream,
  type NotificationUpdatedEvent,
  type PreferencesUpdatedEvent,
  type ReadyEvent,
  type ResetEvent,
  type StreamEventMap,
  type StreamEventName,
  type StreamState,
  type TokenProvider,
  type TokenRequestReason,
} from './types.js';

export interface HeraldStreamOptions extends BackoffOptions {
  /** Base URL of Herald, e.g. `https://herald.example.com`; the stream is `<url>/v1/stream`. */
  url: string | URL;
  /** Asked for a JWT before every connect. Without it the request carries no `Authorization`. */
  getToken?: TokenProvider;
  /** Cursor to resume from (the last `id:` seen), e.g. kept from an earlier session. */
  cursor?: string;
  /** A connection open this long resets the backoff to its first step. Default 10000 ms. */
  stableAfterMs?: number;
  /** Heartbeat interval assumed until `ready` announces the server's. Default 15000 ms. */
  heartbeatMs?: number;
  /** Silence longer than this many heartbeat intervals counts as a dead connection. Default 2.5. */
  heartbeatTolerance?: number;
  /** How many notification ids to remember for de-duplication. Default 1000. */
  dedupeSize?: number;
  /** `fetch` implementation. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Timers and clock. Default the global timers and `Date.now`. */
  clock?: Clock;
}

interface DisconnectPlan {
  reconnect: boolean;
  /** Overrides the backoff for this one retry (Retry-After, token refresh, auth-expired). */
  delayMs?: number;
}

/**
 * One SSE connection to `GET /v1/stream` over `fetch`, kept alive: an explicit state
 * machine (`connecting` → `open` ⇄ `reconnecting`, any → `closed`) with a single
 * `#setState` and a single `#disconnect` path, as in centrifuge-js.
 */
export class HeraldStream implements NotificationStream {
  readonly #emitter = new Emitter<StreamEventMap>();
  readonly #streamUrl: string;
  readonly #getToken: TokenProvider | undefined;
  readonly #fetch: typeof fetch;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #stableAfterMs: number;
  readonly #heartbeatTolerance: number;
  readonly #seen: RecentIds;

  #state: StreamState = 'closed';
  #cursor: string | undefined;
  #heartbeatMs: number;
  /** Bumped by every connect and disconnect; callbacks of an older attempt see a mismatch and stop. */
  #generation = 0;
  #controller: AbortController | undefined;
  readonly #timers: Partial<Record<'reconnect' | 'watchdog' | 'stable', unknown>> = {};
  #tokenReason: TokenRequestReason = 'connect';
  /** Set after a 401/403 made us ask the provider again; a second refusal is final. */
  #authRetried = false;
  #authExpired = false;

  constructor(options: HeraldStreamOptions) {
    this.#streamUrl = new URL('v1/stream', withTrailingSlash(options.url)).toString();
    this.#getToken = options.getToken;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff(options);
    this.#stableAfterMs = options.stableAfterMs ?? 10_000;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#heartbeatTolerance = options.heartbeatTolerance ?? 2.5;
    this.#seen = new RecentIds(options.dedupeSize ?? 1000);
    this.#cursor = options.cursor;
  }

  get state(): StreamState {
    return this.#state;
  }

  /** The last `id:` received; sent as `Last-Event-ID` on every reconnect. */
  get cursor(): string | undefined {
    return this.#cursor;
  }

  /** The backoff in use (its attempt counter and server hint), for inspection. */
  get backoff(): Backoff {
    return this.#backoff;
  }

  on<K extends StreamEventName>(name: K, listener: (event: StreamEventMap[K]) => void): () => void {
    return this.#emitter.on(name, listener);
  }

  start(): void {
    if (this.#state !== 'closed') return;
    this.#authRetried = false;
    this.#tokenReason = 'connect';
    this.#backoff.reset();
    this.#setState('connecting');
    void this.#connect();
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#disconnect(undefined, { reconnect: false });
  }

  #setState(newState: StreamState): void {
    const oldState = this.#state;
    if (oldState === newState) return;
    this.#state = newState;
    this.#emitter.emit('state', { oldState, newState });
  }

  /** The one way out of a connection: tear it down, then either retry later or stop. */
  #disconnect(error: HeraldError | undefined, plan: DisconnectPlan): void {
    this.#generation += 1;
    this.#controller?.abort();
    this.#controller = undefined;
    this.#clearTimer('reconnect');
    this.#clearTimer('watchdog');
    this.#clearTimer('stable');
    if (error) this.#emitter.emit('error', error);
    if (!plan.reconnect) {
      this.#setState('closed');
      return;
    }
    const delay = plan.delayMs ?? this.#backoff.next();
    this.#setState('reconnecting');
    this.#setTimer('reconnect', delay, () => void this.#connect());
  }

  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    const controller = new AbortController();
    this.#controller = controller;
    const current = (): boolean => generation === this.#generation;

    let token: string | null | undefined;
    try {
      token = await this.#getToken?.({ reason: this.#tokenReason });
    } catch (err) {
      if (current()) {
        this.#disconnect(new HeraldError('token_provider_failed', `token provider failed: ${message(err)}`), {
          reconnect: true,
        });
      }
      return;
    }
    if (!current()) return;

    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (this.#cursor) headers['Last-Event-ID'] = this.#cursor;

    let response: Response;
    // Armed before the answer too: a server that takes the connection and never answers (a
    // frozen process, a request lost with a dying worker) must not hold the client forever.
    this.#armWatchdog();
    try {
      response = await this.#fetch(this.#streamUrl, { headers, signal: controller.signal });
    } catch (err) {
      if (current()) this.#disconnect(networkError(err, this.#streamUrl), { reconnect: true });
      return;
    }
    if (current()) this.#clearTimer('watchdog'); // answered: reading the body arms it again
    if (!current()) {
      void response.body?.cancel().catch(() => {});
      return;
    }
    if (!this.#accept(response)) {
      void response.body?.cancel().catch(() => {});
      return;
    }
    await this.#read(response, current);
  }

  /** Decides on the response status; returns true when the body is an event stream to read. */
  #accept(response: Response): boolean {
    const status = response.status;
    if (status === 200) {
      const type = response.headers.get('content-type') ?? '';
      if (!/^text\/event-stream\b/i.test(type)) {
        this.#disconnect(new HeraldError('bad_content_type', `expected text/event-stream, got "${type}"`, status), {
          reconnect: true,
        });
        return false;
      }
      if (!response.body) {
        this.#disconnect(new HeraldError('stream_ended', 'response has no body', status), { reconnect: true });
        return false;
      }
      this.#tokenReason = 'connect';
      this.#authRetried = false;
      this.#authExpired = false;
      this.#setState('open');
      this.#setTimer('stable', this.#stableAfterMs, () => this.#backoff.reset());
      return true;
    }
    // 204 is the server's deliberate "stop" (WHATWG: a native EventSource stops too).
    if (status === 204) {
      this.#disconnect(new HeraldError('no_content', 'server answered 204: not reconnecting', status), {
        reconnect: false,
      });
      return false;
    }
    if (status === 401 || status === 403) {
      const code = status === 401 ? 'unauthorized' : 'forbidden';
      const error = new HeraldError(code, `server refused the token (${status})`, status);
      if (this.#authRetried || !this.#getToken) {
        this.#disconnect(error, { reconnect: false });
      } else {
        // One more try with a token the provider knows was refused; a second refusal is final.
        this.#authRetried = true;
        this.#tokenReason = 'unauthorized';
        this.#disconnect(error, { reconnect: true, delayMs: 0 });
      }
      return false;
    }
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'), this.#clock.now());
    const code = status === 429 ? 'rate_limited' : status === 503 ? 'unavailable' : 'http_error';
    const error = new HeraldError(code, `server answered ${status}`, status);
    if (retryAfter !== undefined && (status === 429 || status === 503)) {
      this.#backoff.next(); // the server's delay replaces this attempt's, but it still counts as a failure
      this.#disconnect(error, { reconnect: true, delayMs: retryAfter });
    } else {
      this.#disconnect(error, { reconnect: true });
    }
    return false;
  }

  async #read(response: Response, current: () => boolean): Promise<void> {
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const parser = this.#createParser(current);
    this.#armWatchdog();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (!current()) return;
        if (done) break;
        this.#armWatchdog();
        parser.feed(decoder.decode(value, { stream: true }));
        if (!current()) return;
      }
    } catch (err) {
      if (current()) this.#disconnect(new HeraldError('network_error', message(err)), { reconnect: true });
      return;
    } finally {
      reader.releaseLock();
    }
    if (this.#authExpired) {
      this.#disconnect(new HeraldError('auth_expired', 'token expired; reconnecting with a fresh one'), {
        reconnect: true,
        delayMs: 0,
      });
      return;
    }
    this.#disconnect(new HeraldError('stream_ended', 'server closed the stream'), { reconnect: true });
  }

  #createParser(current: () => boolean): EventSourceParser {
    return createParser({
      onEvent: (event) => {
        if (current()) this.#dispatch(event);
      },
      // The parser only reports `retry:` values made of ASCII digits (WHATWG); others are ignored.
      onRetry: (ms) => this.#backoff.setRetryHint(ms),
    });
  }

  #dispatch(event: EventSourceMessage): void {
    // WHATWG: an event's id moves the cursor even when the app ignores the event.
    if (event.id !== undefined) this.#cursor = event.id === '' ? undefined : event.id;
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      this.#emitter.emit('error', new HeraldError('bad_event', `event "${event.event ?? 'message'}" is not JSON`));
      return;
    }
    switch (event.event) {
      case 'ready': {
        const ready = data as ReadyEvent;
        if (Number.isFinite(ready.heartbeat_ms) && ready.heartbeat_ms > 0) {
          this.#heartbeatMs = ready.heartbeat_ms;
          this.#armWatchdog();
        }
        this.#emitter.emit('ready', ready);
        break;
      }
      case 'notification': {
        const notification = data as NotificationEvent;
        if (!this.#seen.add(notification.id)) return;
        this.#emitter.emit('notification', notification);
        break;
      }
      case 'notification.updated':
        this.#emitter.emit('notification.updated', data as NotificationUpdatedEvent);
        break;
      case 'notification.expired':
        this.#emitter.emit('notification.expired', data as NotificationExpiredEvent);
        break;
      case 'preferences.updated':
        this.#emitter.emit('preferences.updated', data as PreferencesUpdatedEvent);
        break;
      case 'reset':
        this.#emitter.emit('reset', data as ResetEvent);
        break;
      case 'auth-expired':
        // The server closes right after; ask for a fresh token and come straight back.
        this.#authExpired = true;
        this.#tokenReason = 'expired';
        break;
      default:
        break; // unknown events are for newer clients
    }
  }

  #armWatchdog(): void {
    const timeout = Math.ceil(this.#heartbeatMs * this.#heartbeatTolerance);
    this.#setTimer('watchdog', timeout, () =>
      this.#disconnect(new HeraldError('heartbeat_timeout', `no data for ${timeout} ms`), { reconnect: true }),
    );
  }

  #setTimer(name: 'reconnect' | 'watchdog' | 'stable', ms: number, fn: () => void): void {
    this.#clearTimer(name);
    this.#timers[name] = this.#clock.setTimeout(() => {
      delete this.#timers[name];
      fn();
    }, ms);
  }

  #clearTimer(name: 'reconnect' | 'watchdog' | 'stable'): void {
    const handle = this.#timers[name];
    if (handle === undefined) return;
    this.#clock.clearTimeout(handle);
    delete this.#timers[name];
  }
}

export function withTrailingSlash(url: string | URL): string {
  const text = url.toString();
  return text.endsWith('/') ? text : `${text}/`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
