// Small clients for hostile tests: a raw-socket HTTP exchange (for bytes fetch refuses to
// send) and a stream recorder that keeps the exact bytes as well as the parsed events.
import { connect } from 'node:net';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ERRORS } from '../../src/errors.js';
import { waitFor } from '../helpers/wait.js';

export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** Sends `request` as-is and reads until `done(text)` or the server closes. */
export async function rawExchange(port: number, request: Buffer | string, done: (text: string) => boolean = () => false, timeoutMs = 5000): Promise<RawResponse> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const text = () => Buffer.concat(chunks).toString('latin1');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { socket.destroy(); resolve(); }, timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (done(text())) { clearTimeout(timer); socket.destroy(); resolve(); }
    });
    socket.on('close', () => { clearTimeout(timer); resolve(); });
    socket.on('error', (err) => { clearTimeout(timer); if (chunks.length) resolve(); else reject(err); });
    socket.write(request);
  });
  const all = text();
  const split = all.indexOf('\r\n\r\n');
  const head = split === -1 ? all : all.slice(0, split);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: split === -1 ? '' : all.slice(split + 4) };
}

/** An event's data parsed as JSON (notification fields, `reason`, …). */
export interface EventJson {
  content?: unknown;
  title?: unknown;
  data?: Record<string, unknown> | null;
  reason?: unknown;
  [field: string]: unknown;
}

export interface RecordedEvent {
  event: string;
  id: string | undefined;
  data: string;
  json: EventJson | undefined;
}

export interface RecordedStream {
  status: number;
  headers: Headers;
  /** Every byte received, decoded as UTF-8. */
  raw(): string;
  events: RecordedEvent[];
  of(event: string): RecordedEvent[];
  waitFor(event: string, count: number, timeoutMs?: number): Promise<RecordedEvent[]>;
  ended: Promise<void>;
  isEnded(): boolean;
  close(): void;
  /** Body of a non-200 answer. */
  errorBody: unknown;
}

/** Opens `path` (e.g. `/v1/stream?ticket=…`) and records the stream. */
export async function recordStream(base: string, path: string, headers: Record<string, string> = {}): Promise<RecordedStream> {
  const controller = new AbortController();
  const res = await fetch(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: RecordedEvent[] = [];
  let raw = '';
  let ended = false;
  const parser = createParser({
    onEvent: (e: EventSourceMessage) => {
      let json: EventJson | undefined;
      try { json = JSON.parse(e.data) as EventJson; } catch { /* not JSON */ }
      events.push({ event: e.event ?? 'message', id: e.id, data: e.data, json });
    },
  });
  let errorBody: unknown = null;
  const endedPromise = (async () => {
    if (res.status !== 200) {
      const text = await res.text().catch(() => '');
      try { errorBody = JSON.parse(text); } catch { errorBody = text; }
      return;
    }
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        raw += text;
        parser.feed(text);
      }
    } catch { /* aborted or reset */ }
  })().finally(() => { ended = true; });
  if (res.status !== 200) await endedPromise;
  const stream: RecordedStream = {
    status: res.status,
    headers: res.headers,
    raw: () => raw,
    events,
    of: (event) => events.filter((e) => e.event === event),
    waitFor: (event, count, timeoutMs = 10_000) =>
      waitFor(() => (stream.of(event).length >= count ? stream.of(event) : null), `${count} "${event}" events (have ${stream.of(event).length})`, timeoutMs),
    ended: endedPromise,
    isEnded: () => ended,
    close: () => controller.abort(),
    get errorBody() { return errorBody; },
  };
  return stream;
}

const FIELD_LINE = /^(?:|retry: \d+|event: [^\r\n]+|id: [^\r\n\0]+|data: [^\r\n]*|: [^\r\n]*)$/;

/** Lines that are not one of the fields Herald writes (an injected field would be one). */
export function malformedLines(raw: string): string[] {
  // The spec ends a line at CRLF, LF or CR; Herald only writes LF, so split on LF and
  // flag any CR left inside a line.
  return raw.split('\n').filter((line) => line.includes('\r') || !FIELD_LINE.test(line));
}

/** "status code" of an API answer, plus any missing header the code requires. */
export async function answer(res: Response): Promise<string> {
  const text = await res.text();
  let code = '';
  let message = '';
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? '';
    message = body.error?.message ?? '';
  } catch { /* not JSON */ }
  let out = code ? `${res.status} ${code}` : String(res.status);
  if (res.status === 401 && res.headers.get('www-authenticate') !== 'Bearer error="invalid_token"') out += ' (no WWW-Authenticate)';
  if (code === 'invalid_token' && message !== ERRORS.invalid_token.message) out += ' (detailed message!)';
  if ((res.status === 429 || res.status === 503) && !/^\d+$/.test(res.headers.get('retry-after') ?? '')) out += ' (no Retry-After)';
  return out;
}
