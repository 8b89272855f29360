// A minimal test SSE reader over fetch + eventsource-parser that records every event.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { waitFor } from './wait.js';

export interface RecordedEvent {
  event: string;
  id: string | undefined;
  data: any;
  raw: string;
}

export interface TestStream {
  status: number;
  headers: Headers;
  events: RecordedEvent[];
  comments: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Events of one type. */
  of(event: string): RecordedEvent[];
  waitForEvents(event: string, count: number, timeoutMs?: number): Promise<RecordedEvent[]>;
  lastId(): string | undefined;
  close(): void;
}

export async function openStream(url: string, token: string | null, options: { lastEventId?: string; headers?: Record<string, string> } = {}): Promise<TestStream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
  const res = await fetch(`${url}/v1/stream`, { headers, signal: controller.signal });
  const events: RecordedEvent[] = [];
  const comments: string[] = [];
  const parser = createParser({
    onEvent: (e: EventSourceMessage) => {
      let data: unknown = e.data;
      try { data = JSON.parse(e.data); } catch { /* keep text */ }
      events.push({ event: e.event ?? 'message', id: e.id, data, raw: e.data });
    },
    onComment: (c) => comments.push(c),
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
    ended,
    of: (event) => events.filter((e) => e.event === event),
    waitForEvents: (event, count, timeoutMs = 10_000) =>
      waitFor(() => (stream.of(event).length >= count ? stream.of(event) : null), `${count} "${event}" events (have ${stream.of(event).length})`, timeoutMs),
    lastId: () => [...events].reverse().find((e) => e.id !== undefined)?.id,
    close: () => controller.abort(),
  };
  if (res.status !== 200) {
    const text = await res.text().catch(() => '');
    try { events.push({ event: 'http-error', id: undefined, data: JSON.parse(text), raw: text }); } catch { /* not json */ }
  }
  return stream;
}
