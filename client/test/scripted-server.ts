import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer; `n` counts requests from 0. */
export type Script = (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>;

export interface RecordedRequest {
  at: number;
  url: string;
  headers: IncomingMessage['headers'];
}

export interface ScriptedServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A tiny SSE server that misbehaves on purpose: each request runs the script for its index
 * (the last script repeats). Listens on a random port.
 */
export async function startScriptedServer(scripts: Script[]): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const n = requests.length;
    requests.push({ at: Date.now(), url: req.url ?? '', headers: req.headers });
    const script = scripts[Math.min(n, scripts.length - 1)];
    void Promise.resolve(script?.(req, res, n)).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sseHead(res: ServerResponse): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
  });
  res.flushHeaders();
}

export function sseEvent(name: string, data: unknown, id?: string): string {
  return `event: ${name}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
}

export function readyEvent(cursor: string, heartbeatMs = 15_000, unread = 0): string {
  return sseEvent('ready', { connection_id: 'c', unread_count: unread, cursor, heartbeat_ms: heartbeatMs }, cursor);
}

export function notification(id: string, unread = 1): Record<string, unknown> {
  return {
    id,
    recipient: 'alice',
    topic: null,
    type: 'alert',
    title: null,
    content: `content of ${id}`,
    data: null,
    status: 'unread',
    seen_at: null,
    read_at: null,
    archived_at: null,
    created_at: '2026-11-26T15:00:00.000Z',
    unread_count: unread,
  };
}

// The one wait of the tests, also under this module's name for the client tests.
export { waitFor } from '../../test/helpers/wait.js';
