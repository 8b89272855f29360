// A minimal test SSE reader over fetch + eventsource-parser that records every event.
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface RecordedEvent {
  event: string;
  id: string | undefined;
  // Parsed JSON of any shape: tests assert on the fields they expect.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
  raw: string;
}

export interface TestStream {
  status: number;
  headers: Headers;
  events: RecordedEvent[];
  comments: string[];
  /** Every `retry:` hint received, in order. */
  retries: number[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Events of one type. */
  of(event: string): RecordedEvent[];
  waitForEvents(event: string, count: number, timeoutMs?: number): Promise<RecordedEvent[]>;
  lastId(): string | undefined;
  close(): void;
}

export async function openStream(url: string, token: string | null, options: { lastEventId?: string; headers?: Record<string, string>; query?: string } = {}): Promise<TestStream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
  const res = await fetch(`${url}/v1/stream${options.query ? `?${options.query}` : ''}`, { headers, signal: controller.signal });
  const events: RecordedEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
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
      for (const waiter of waiters) waiter();
    },
    onComment: (c) => comments.push(c),
    onRetry: (ms) => retries.push(ms),
  });
  const ended = (async () => {
    if (!res.body || res.status !== 200) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch { /* aborted or reset */ }
  })();
  const stream: TestStream = {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    retries,
    ended,
    of: (event) => [...(byType.get(event) ?? [])],
    waitForEvents: (event, count, timeoutMs = 10_000) => new Promise<RecordedEvent[]>((resolve, reject) => {
      const check = () => {
        if ((byType.get(event)?.length ?? 0) < count) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(stream.of(event));
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} "${event}" events (have ${stream.of(event).length})`));
      }, timeoutMs);
      waiters.add(check);
      check();
    }),
    lastId: () => [...events].reverse().find((e) => e.id !== undefined)?.id,
    close: () => controller.abort(),
  };
  if (res.status !== 200) {
    const text = await res.text().catch(() => '');
    try { events.push({ event: 'http-error', id: undefined, data: JSON.parse(text), raw: text }); } catch { /* not json */ }
  }
  return stream;
}
