// Reaching one chosen worker of a node started with HERALD_WORKERS > 1. Every answer names
// the worker that gave it (the Herald-Worker header, a slot 1..N); the primary hands each
// new connection to the next worker, so a test opens connections until one lands where it
// wants, then keeps that connection (streams are one connection each; other requests go
// through a kept-alive agent of one socket).
import http from 'node:http';
import { openStream, type OpenStreamOptions, type TestStream } from './sse-client.js';
import type { PublishAnswer } from './publish.js';

const ATTEMPTS = 50;

/** A stream opened on worker `slot` (streams that landed elsewhere are closed unread). */
export async function openStreamOn(url: string, slot: number, token: string, options: OpenStreamOptions = {}): Promise<TestStream> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const stream = await openStream(url, token, options);
    if (stream.headers.get('herald-worker') === String(slot)) return stream;
    stream.close();
  }
  throw new Error(`no stream landed on worker ${slot} in ${ATTEMPTS} attempts`);
}

/** HTTP requests that all go to one worker: one kept-alive connection that landed there. */
export class WorkerConnection {
  private constructor(readonly url: string, readonly slot: number, private readonly agent: http.Agent) {}

  /** Opens connections (a GET /healthz each) until one lands on `slot`, and keeps it. */
  static async to(url: string, slot: number): Promise<WorkerConnection> {
    for (let i = 0; i < ATTEMPTS; i++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const answer = await request(agent, url, 'GET', '/healthz', null, null);
      if (answer.headers.get('herald-worker') === String(slot)) return new WorkerConnection(url, slot, agent);
      agent.destroy();
    }
    throw new Error(`no connection landed on worker ${slot} in ${ATTEMPTS} attempts`);
  }

  /** A request on this connection; fails if another worker answered (the connection was replaced). */
  async request(method: string, path: string, token: string | null, body: unknown = null): Promise<PublishAnswer> {
    const answer = await request(this.agent, this.url, method, path, token, body);
    const worker = answer.headers.get('herald-worker');
    if (worker !== String(this.slot)) throw new Error(`worker ${worker} answered on the connection kept for worker ${this.slot}`);
    return answer;
  }

  publish(token: string, body: unknown): Promise<PublishAnswer> {
    return this.request('POST', '/v1/notifications', token, body);
  }

  close(): void {
    this.agent.destroy();
  }
}

function request(agent: http.Agent, url: string, method: string, path: string, token: string | null, body: unknown): Promise<PublishAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    const payload = body === null ? null : JSON.stringify(body);
    if (payload !== null) headers['content-type'] = 'application/json';
    const req = http.request(`${url}${path}`, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: unknown = null;
        try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') answerHeaders.set(name, value);
        resolve({ status: res.statusCode ?? 0, headers: answerHeaders, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload ?? undefined);
  });
}
