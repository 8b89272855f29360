// The one SSE reader of the tests and tools: fetch + eventsource-parser, recording every
// event, comment, retry hint and the exact text received. The resuming subscriber
// (subscriber.ts), the hostile-input table and the benchmark all read streams through it.
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface RecordedEvent {
  event: string;
  id: string | undefined;
  // Parsed JSON of any shape (the text itself when it is not JSON): tests assert on the
  // fields they expect.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
  /** The data field exactly as received. */
  raw: string;
}

export interface TestStream {
  status: number;
  headers: Headers;
  events: RecordedEvent[];
  comments: string[];
  /** Every `retry:` hint received, in order. */
  retries: number[];
  /** Resolves when the server ends the stream (at once for an answer other than 200). */
  ended: Promise<void>;
  isEnded(): boolean;
  /** Every byte of the stream's body received so far, decoded as UTF-8. */
  wire(): string;
  /** The JSON body of an answer other than 200 (its text when not JSON), else null. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  errorBody: any;
  /** Events of one type. */
  of(event: string): RecordedEvent[];
  waitForEvents(event: string, count: number, timeoutMs?: number): Promise<RecordedEvent[]>;
  lastId(): string | undefined;
  close(): void;
}

export interface OpenStreamOptions {
  /** Sent as the Last-Event-ID header when given, also when empty. */
  lastEventId?: string;
  headers?: Record<string, string>;
  /** Query string for /v1/stream, without the `?`. */
  query?: string;
  /** Another path than /v1/stream (with its own query string, e.g. `/v1/stream?ticket=…`). */
  path?: string;
  /** Called for every event as it is parsed, before waiters are woken. */
  onEvent?: (event: RecordedEvent) => void;
  /** Aborts the request, also while it is still connecting. */
  signal?: AbortSignal;
}

export async function openStream(url: string, token: string | null, options: OpenStreamOptions = {}): Promise<TestStream> {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  const path = options.path ?? `/v1/stream${options.query ? `?${options.query}` : ''}`;
  const res = await fetch(`${url}${path}`, { headers, signal });
  const events: RecordedEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  let wire = '';
  let ended = false;
  // Waiters are checked on every event, so a wait ends the moment its event arrives.
  const waiters = new Set<() => void>();
  const byType = new Map<string, RecordedEvent[]>();
  const parser = createParser({
    onEvent: (e: EventSourceMessage) => {
      let data: unknown = e.data;
      try { data = JSON.parse(e.data); } catch { /* keep text */ }
      const recorded = { event: e.event ?? 'message', id: e.id, data, raw: e.data };
      events.push(recorded);
      const list = byType.get(recorded.event) ?? [];
      list.push(recorded);
      byType.set(recorded.event, list);
      options.onEvent?.(recorded);
      for (const waiter of waiters) waiter();
    },
    onComment: (c) => comments.push(c),
    onRetry: (ms) => retries.push(ms),
  });
  let errorBody: unknown = null;
  const endedPromise = (async () => {
    if (res.status !== 200 || !res.body) {
      const text = await res.text().catch(() => '');
      try { errorBody = JSON.parse(text); } catch { errorBody = text; }
      return;
    }
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        wire += text;
        parser.feed(text);
      }
    } catch { /* aborted or reset */ }
  })().finally(() => {
    ended = true;
    // A wait for events that can no longer come fails now rather than at its timeout.
    for (const waiter of waiters) waiter();
  });
  const stream: TestStream = {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    retries,
    ended: endedPromise,
    isEnded: () => ended,
    wire: () => wire,
    get errorBody() { return errorBody; },
    of: (event) => [...(byType.get(event) ?? [])],
    waitForEvents: (event, count, timeoutMs = 10_000) => new Promise<RecordedEvent[]>((resolve, reject) => {
      const have = () => byType.get(event)?.length ?? 0;
      const finish = (err: Error | null) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err) reject(err); else resolve(stream.of(event));
      };
      const check = () => {
        if (have() >= count) finish(null);
        else if (ended) finish(new Error(`the stream ended with ${have()} of ${count} "${event}" events (status ${res.status}; events: ${events.map((e) => e.event).join(',') || 'none'})`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${count} "${event}" events (have ${have()})`)), timeoutMs);
      waiters.add(check);
      check();
    }),
    lastId: () => [...events].reverse().find((e) => e.id !== undefined)?.id,
    close: () => controller.abort(),
  };
  // An error answer is read whole before returning, so its body is there for the caller.
  if (res.status !== 200) {
    await endedPromise;
    if (errorBody !== null && typeof errorBody === 'object') events.push({ event: 'http-error', id: undefined, data: errorBody, raw: JSON.stringify(errorBody) });
  }
  return stream;
}
