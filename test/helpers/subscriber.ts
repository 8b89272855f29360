// A stream reader that behaves like a well-made client: it keeps the last cursor and, when
// the stream ends or cannot open (node killed, 502/503), reconnects with Last-Event-ID.
// It records every notification with the time it arrived. Each connection is one
// openStream (sse-client.ts); this class only adds the reconnect loop.
import { openStream, type RecordedEvent, type TestStream } from './sse-client.js';

export interface ReceivedNotification {
  id: string;
  recipient: string | null;
  content: string;
  /** The user topic's sequence from the event's cursor. */
  seq: number;
  cursor: string;
  /** Date.now() when it arrived. */
  at: number;
}

export class ResumingSubscriber {
  readonly received: ReceivedNotification[] = [];
  /** Streams that opened with 200. */
  connects = 0;
  /** Attempts answered with something else or failing to connect. */
  failedAttempts = 0;
  resets = 0;
  lastId: string | undefined;
  /**
   * The stream has started: its `ready` event arrived. Not the 200 alone: the headers go out
   * before the server reads where a new stream starts, and a notification committed in
   * between is before that start, as for any client that connects after it.
   */
  open = false;
  onNotification: ((n: ReceivedNotification) => void) | null = null;
  #stopped = new AbortController();
  #stream: TestStream | null = null;
  #loop: Promise<void> | null = null;

  constructor(
    readonly baseUrl: string,
    readonly user: string,
    private readonly token: () => Promise<string>,
  ) {}

  start(): this {
    this.#loop = this.#run();
    return this;
  }

  async #run(): Promise<void> {
    const signal = this.#stopped.signal;
    while (!signal.aborted) {
      try {
        const stream = await openStream(this.baseUrl, await this.token(), { lastEventId: this.lastId, signal, onEvent: (e) => this.#onEvent(e) });
        if (stream.status !== 200) {
          this.failedAttempts++;
        } else {
          this.#stream = stream;
          this.connects++;
          await stream.ended;
        }
      } catch {
        this.failedAttempts++;
      } finally {
        this.open = false;
        this.#stream = null;
      }
      // A client's reconnect delay, jittered like the SDK's so that many subscribers do not
      // come back at the same instant; not a wait in a test.
      if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    }
  }

  #onEvent(event: RecordedEvent): void {
    if (event.id !== undefined) this.lastId = event.id;
    if (event.event === 'ready') this.open = true;
    if (event.event === 'reset') this.resets++;
    if (event.event !== 'notification') return;
    const data = event.data as { id: string; recipient: string | null; content: string };
    const cursor = event.id ?? '';
    const received = { id: data.id, recipient: data.recipient, content: data.content, seq: Number(cursor.split('.')[1]), cursor, at: Date.now() };
    this.received.push(received);
    this.onNotification?.(received);
  }

  /** Drops the current connection (the loop reconnects unless stopped). */
  reconnect(): void {
    this.#stream?.close();
  }

  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#loop;
  }
}
