// Stream readers for the delivery scenarios, where test/helpers/sse-client.ts costs too much:
// it keeps every event and every byte received, and 10,000 streams or a burst of a million
// deliveries would fill the bench process's memory and take its CPU from the server.
// `CountingStream` reads as fast as it can and only counts events by type; `StalledReader`
// reads the head and then nothing, as a reader whose tab froze.
import { request as httpRequest, type ClientRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { HeraldProcess } from '../test/helpers/herald.js';

export interface CountingStream {
  /** Events seen, by type (`message` when the event has no `event:` field). */
  count(event: string): number;
  /** True once the server ended the stream or the connection failed. */
  ended(): boolean;
  close(): void;
}

/**
 * Opens /v1/stream and counts its events. A minimal line reader (WHATWG HTML §9.2.6: an
 * event is dispatched at a blank line); `data` is not kept, and the lines may end in LF only,
 * which is all Herald writes.
 */
export function openCountingStream(url: string, token: string): Promise<CountingStream> {
  const counts = new Map<string, number>();
  let ended = false;
  let request: ClientRequest | null = null;
  const stream: CountingStream = {
    count: (event) => counts.get(event) ?? 0,
    ended: () => ended,
    close: () => { ended = true; request?.destroy(); },
  };
  return new Promise((resolve, reject) => {
    // No agent: one connection per stream, never pooled.
    request = httpRequest(`${url}/v1/stream`, { agent: false, headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
    request.on('error', (err) => { ended = true; reject(err); });
    request.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`stream answered ${res.statusCode}`));
        return;
      }
      res.setEncoding('latin1');
      let partial = '';
      let type = 'message';
      res.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') {
            counts.set(type, (counts.get(type) ?? 0) + 1);
            type = 'message';
          } else if (line.startsWith('event: ')) {
            type = line.slice(7);
          }
        }
      });
      res.on('close', () => { ended = true; });
      resolve(stream);
    });
    request.end();
  });
}

/** Opens `count` counting streams, `concurrency` at a time, each for its own user `${prefix}${i}`. */
export async function openCountingStreams(herald: HeraldProcess, prefix: string, count: number, concurrency = 64): Promise<CountingStream[]> {
  const streams: CountingStream[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      streams[i] = await openCountingStream(herald.url, await herald.token(`${prefix}${i}`, { scope: 'subscribe' }));
    }
  }));
  return streams;
}

export interface StalledReader {
  socket: Socket;
  /** The client's port: the server's side of the connection has it as its peer port. */
  port: number;
}

/** A stream on a raw socket that reads up to `ready`, then stops reading for good. */
export function openStalledReader(port: number, token: string): Promise<StalledReader> {
  const socket = connect(port, '127.0.0.1');
  return new Promise((resolve, reject) => {
    let head = '';
    socket.on('error', reject);
    socket.on('data', function onData(chunk: Buffer) {
      head += chunk.toString('latin1');
      if (!head.includes('event: ready')) return;
      socket.off('data', onData);
      socket.pause();
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve({ socket, port: socket.localPort ?? 0 });
    });
    socket.write(`GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  });
}
