// A stream reader that behaves like a well-made client: it keeps the last cursor and, when
// the stream ends or cannot open (node killed, 502/503), reconnects with Last-Event-ID.
// It records every notification with the time it arrived.
import { createParser } from 'eventsource-parser';

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
  open = false;
  onNotification: ((n: ReceivedNotification) => void) | null = null;
  #stopped = false;
  #controller: AbortController | null = null;
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
    while (!this.#stopped) {
      const controller = new AbortController();
      this.#controller = controller;
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${await this.token()}` };
        if (this.lastId) headers['last-event-id'] = this.lastId;
        const res = await fetch(`${this.baseUrl}/v1/stream`, { headers, signal: controller.signal });
        if (res.status !== 200 || !res.body) {
          this.failedAttempts++;
          await res.body?.cancel().catch(() => {});
        } else {
          this.connects++;
          this.open = true;
          await this.#read(res.body);
        }
      } catch {
        this.failedAttempts++;
      } finally {
        this.open = false;
      }
      if (!this.#stopped) await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    }
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const parser = createParser({
      onEvent: (event) => {
        if (event.id !== undefined) this.lastId = event.id;
        if (event.event === 'reset') this.resets++;
        if (event.event !== 'notification') return;
        const data = JSON.parse(event.data) as { id: string; recipient: string | null; content: string };
        const cursor = event.id ?? '';
        const received = { id: data.id, recipient: data.recipient, content: data.content, seq: Number(cursor.split('.')[1]), cursor, at: Date.now() };
        this.received.push(received);
        this.onNotification?.(received);
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // reset by the peer or aborted: the loop reconnects
    }
  }

  /** Drops the current connection (the loop reconnects unless stopped). */
  reconnect(): void {
    this.#controller?.abort();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#controller?.abort();
    await this.#loop;
  }
}
